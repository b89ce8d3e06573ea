package io.stratus.gateway;

import io.stratus.support.config.Settings;
import io.stratus.support.tls.TlsSettings;
import io.stratus.gateway.upload.UploadLimits;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The image-gateway's configuration: immutable, explicit defaults, validated at start-up.
 *
 * @param listenHost bind address (127.0.0.1)
 * @param port gRPC port (9292; 0 picks a free one)
 * @param backend {@code filesystem}, {@code glance} or {@code rbd}
 * @param fsDir filesystem store directory (filesystem backend)
 * @param glanceUrl Glance v2 endpoint, e.g. http://127.0.0.1:9393 (glance backend)
 * @param glanceToken Keystone token sent as X-Auth-Token; empty for noauth Glance
 * @param cephConf ceph.conf path (rbd backend)
 * @param cephPool pool that holds images (rbd backend)
 * @param maxConcurrentUploads uploads in progress at once; more get RESOURCE_EXHAUSTED
 * @param maxExtentBytes largest data extent accepted (and sent on download)
 * @param maxVirtualBytes largest virtual size an upload may declare (16 TiB)
 * @param uploadIdle longest an upload may wait for the uploader's next message (5 min)
 * @param backgroundChecksums whether md5 and sha512 are filled in after activation
 *     ({@code checksums=background}, the default) or never ({@code off}); stores that
 *     compute their own (Glance) are not affected
 * @param tls the CA, the gateway's certificate and key ({@code tls.*}; see
 *     {@link TlsSettings#read})
 * @param identityAddress the conductor, which resolves users' tokens ({@code
 *     identity.address}: a target, or the replicas as {@code host:port,host:port}; required
 *     with TLS, unused without)
 * @param queuedExpire how long an image may stay queued (no upload) before it is deleted
 *     ({@code queued.expire}, PT24H)
 * @param maxUploadsPerProject uploads in progress to one project's images ({@code
 *     uploads.max.per.project}, 8)
 * @param glanceApi where the Glance v2 REST subset listens ({@code openstack.image.port},
 *     0: off, the default; {@code openstack.image.listen.host}); it needs TLS and {@code
 *     identity.address}, which check its callers' tokens
 */
public record GatewayConfig(
    String listenHost,
    int port,
    String backend,
    Path fsDir,
    String glanceUrl,
    String glanceToken,
    Path cephConf,
    String cephPool,
    int maxConcurrentUploads,
    int maxExtentBytes,
    long maxVirtualBytes,
    Duration uploadIdle,
    boolean backgroundChecksums,
    TlsSettings tls,
    String identityAddress,
    Duration queuedExpire,
    int maxUploadsPerProject,
    io.stratus.support.config.OptionalEndpoint health,
    io.stratus.support.config.OptionalEndpoint metrics,
    io.stratus.support.config.OptionalEndpoint glanceApi) {

  public static final int DEFAULT_PORT = 9292;

  /** The limits of uploads. */
  public UploadLimits uploadLimits() {
    return new UploadLimits(maxConcurrentUploads, maxExtentBytes, maxVirtualBytes, uploadIdle,
        maxUploadsPerProject);
  }

  public static final int DEFAULT_MAX_EXTENT = 4 << 20;
  private static final String ENV_PREFIX = "STRATUS_GATEWAY_";

  /** Reads file keys ({@code listen.host}, {@code port}, {@code backend}, {@code fs.dir},
   * {@code glance.url}, {@code glance.token}, {@code ceph.conf}, {@code ceph.pool}, {@code
   * uploads.max}, {@code extent.max.bytes}, {@code upload.max.virtual.bytes}, {@code
   * upload.idle} (ISO-8601 or {@code 500ms}), {@code checksums}, {@code tls.*}, {@code identity.address}, {@code queued.expire}, {@code uploads.max.per.project}) overlaid with {@code STRATUS_GATEWAY_*}. */
  public static GatewayConfig load(Path file, Map<String, String> env) {
    return build(Settings.load("image-gateway", ENV_PREFIX, file, env));
  }

  public static GatewayConfig fromMap(Map<String, String> values) {
    return build(Settings.of("image-gateway", ENV_PREFIX, values));
  }

  private static GatewayConfig build(Settings s) {
    String host = s.string("listen.host", "127.0.0.1");
    int port = s.integer("port", DEFAULT_PORT, 0, 65535);
    String backend = s.oneOf("backend", "filesystem", List.of("filesystem", "glance", "rbd"));
    String fsDir = backend.equals("filesystem") ? s.required("fs.dir") : s.raw("fs.dir");
    String glanceUrl = backend.equals("glance") ? s.required("glance.url") : s.raw("glance.url");
    String cephConf = backend.equals("rbd") ? s.required("ceph.conf") : s.raw("ceph.conf");
    String cephPool = s.string("ceph.pool", "images");
    int uploads = s.integer("uploads.max", 16, 1, 1024);
    int extent = s.integer("extent.max.bytes", DEFAULT_MAX_EXTENT, 4096, 16 << 20);
    long maxVirtual = s.longInteger("upload.max.virtual.bytes",
        UploadLimits.DEFAULT_MAX_VIRTUAL_BYTES, 1L << 20, 1L << 50);
    Duration idle = s.duration("upload.idle", UploadLimits.DEFAULT_IDLE);
    String checksums = s.oneOf("checksums", "background", List.of("background", "off"));
    TlsSettings tls = TlsSettings.read(s);
    String identity = tls.insecure() ? s.raw("identity.address") : s.required("identity.address");
    Duration queuedExpire = s.duration("queued.expire", Duration.ofHours(24));
    int perProject = s.integer("uploads.max.per.project", 8, 1, 1024);
    var health = io.stratus.support.config.OptionalEndpoint.read(s, "health", host);
    var metrics = io.stratus.support.config.OptionalEndpoint.read(s, "metrics", host);
    var glanceApi = io.stratus.support.config.OptionalEndpoint.read(s, "openstack.image", host);
    if (glanceApi.enabled() && tls.insecure()) {
      s.problem("openstack.image.port needs TLS and identity.address: the Glance API checks"
          + " its callers' tokens with the conductor");
    }
    s.validate();
    return new GatewayConfig(host, port, backend, fsDir == null ? null : Path.of(fsDir),
        glanceUrl, s.string("glance.token", ""), cephConf == null ? null : Path.of(cephConf),
        cephPool, uploads, extent, maxVirtual, idle,
        checksums.equals("background"), tls, identity, queuedExpire, perProject, health, metrics,
        glanceApi);
  }
}
