/**
 * A thin JNA binding of the librados/librbd calls Stratus needs, shared by the
 * image-gateway's RBD store and the compute-agent's RBD root disks: the cluster connection
 * ({@link io.stratus.ceph.Rados}, {@link io.stratus.ceph.IoCtx}), images of a pool
 * ({@link io.stratus.ceph.RbdPool}, {@link io.stratus.ceph.RbdImage}), bounded
 * asynchronous writes ({@link io.stratus.ceph.WriteWindow}) and errors as
 * {@link io.stratus.ceph.RbdException}. Why not {@code com.ceph:rados}: see
 * {@code image-gateway/README.md}.
 */
package io.stratus.ceph;
