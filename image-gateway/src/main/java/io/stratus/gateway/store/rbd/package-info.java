/**
 * The Ceph RBD image store. {@link io.stratus.gateway.store.rbd.RbdBackend} is the entry
 * point; it uses the shared JNA binding of librados/librbd in {@code io.stratus.ceph}
 * (module {@code ceph}, also used by the compute-agent for RBD root disks). The classes
 * here each do one thing — records as RADOS objects ({@code RecordObjects}), an image's
 * RBD images ({@code ImageContent}), the upload ({@code RbdUpload} over the binding's
 * bounded {@code WriteWindow} of asynchronous writes), sparse reads
 * ({@code RbdExtentSource}) and Nova's direct snapshot ({@code CloneImport}).
 */
package io.stratus.gateway.store.rbd;
