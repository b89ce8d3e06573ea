/**
 * The image-gateway: image records and bytes over {@code image.v1}, stored on the
 * filesystem, in Glance or in Ceph RBD. Implemented by the image-gateway issue; this module
 * fixes its place in the build.
 */
package io.stratus.gateway;
