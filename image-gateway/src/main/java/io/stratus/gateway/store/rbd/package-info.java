/**
 * The Ceph RBD image store. {@link io.stratus.gateway.store.rbd.RbdBackend} is the entry
 * point; the other classes each do one thing — the JNA binding ({@code LibRados}, {@code
 * LibRbd}, errors as {@code RbdException}), the cluster connection ({@code Rados}, {@code
 * IoCtx}), RBD images ({@code RbdPool}, {@code RbdImage}), records as RADOS objects
 * ({@code RecordObjects}), an image's RBD images ({@code ImageContent}), the upload
 * ({@code RbdUpload} over a bounded {@code WriteWindow} of asynchronous writes), sparse
 * reads ({@code RbdExtentSource}) and Nova's direct snapshot ({@code CloneImport}).
 */
package io.stratus.gateway.store.rbd;
