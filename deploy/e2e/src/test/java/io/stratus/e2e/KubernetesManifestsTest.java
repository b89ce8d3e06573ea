package io.stratus.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.conductor.config.ConductorConfig;
import io.stratus.conductor.config.ConfigLoader;
import io.stratus.gateway.GatewayConfig;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * The Kubernetes manifests in {@code deploy/k8s} say what matters: every container runs
 * this release's image; the conductor and the gateway are replicated, probed on the
 * plaintext health port their settings open, serve on the port their settings name, and
 * mount their TLS material read-only where their settings look for it; the settings in
 * the ConfigMaps are ones the services accept; the migration Job runs the Flyway entry
 * point with the conductor's database secret; nothing runs as root or escalates.
 */
class KubernetesManifestsTest {
  private static final Path K8S = Path.of("../k8s").toAbsolutePath().normalize();

  /** Every object of every file the kustomization lists, by "Kind/name". */
  @SuppressWarnings("unchecked")
  private static Map<String, Map<String, Object>> objects() throws Exception {
    Map<String, Object> kustomization;
    try (Reader r = Files.newBufferedReader(K8S.resolve("kustomization.yaml"))) {
      kustomization = new Yaml().load(r);
    }
    Map<String, Map<String, Object>> all = new HashMap<>();
    for (Object file : (List<Object>) kustomization.get("resources")) {
      try (Reader r = Files.newBufferedReader(K8S.resolve((String) file))) {
        for (Object doc : new Yaml().loadAll(r)) {
          Map<String, Object> o = (Map<String, Object>) doc;
          all.put(o.get("kind") + "/" + get(o, "metadata", "name"), o);
        }
      }
    }
    return all;
  }

  @SuppressWarnings("unchecked")
  private static <T> T get(Object o, Object... path) {
    Object cur = o;
    for (Object p : path) {
      cur = p instanceof Integer i ? ((List<Object>) cur).get(i) : ((Map<String, Object>) cur).get(p);
      if (cur == null) {
        return null;
      }
    }
    return (T) cur;
  }

  /** The release's image: stratus:VERSION, the project version without -SNAPSHOT. */
  private static String releaseImage() throws Exception {
    String pom = Files.readString(K8S.resolve("../../pom.xml").normalize());
    int at = pom.indexOf("<version>", pom.indexOf("<artifactId>stratus-parent</artifactId>"));
    String version = pom.substring(at + 9, pom.indexOf("</version>", at)).replace("-SNAPSHOT", "");
    return "stratus:" + version;
  }

  private static Map<String, Object> container(Map<String, Object> workload) {
    List<Object> containers = get(workload, "spec", "template", "spec", "containers");
    assertEquals(1, containers.size());
    return get(containers, 0);
  }

  @Test
  void theServicesAreReplicatedProbedOnTheirHealthPortAndServeWhereTheirSettingsSay(
      @TempDir Path tmp) throws Exception {
    Map<String, Map<String, Object>> all = objects();
    for (String service : List.of("stratus-conductor", "stratus-image-gateway")) {
      Map<String, Object> deployment = all.get("Deployment/" + service);
      assertNotNull(deployment, service);
      assertTrue(get(deployment, "spec", "replicas") instanceof Integer n && n >= 2, service);
      Map<String, Object> c = container(deployment);
      assertEquals(releaseImage(), c.get("image"), service);
      Map<String, String> settings = get(all.get("ConfigMap/" + service), "data");
      String prefix = service.equals("stratus-conductor") ? "STRATUS_CONDUCTOR_" : "STRATUS_GATEWAY_";

      Map<String, Integer> ports = new HashMap<>();
      for (Object p : (List<Object>) get(c, "ports")) {
        ports.put(get(p, "name"), get(p, "containerPort"));
      }
      assertEquals(Integer.valueOf(settings.get(prefix + "PORT")), ports.get("grpc"), service);
      assertEquals(Integer.valueOf(settings.get(prefix + "HEALTH_PORT")), ports.get("health"), service);
      assertEquals("0.0.0.0", settings.get(prefix + "HEALTH_LISTEN_HOST"), "the kubelet probes the pod IP");
      for (String probe : List.of("readinessProbe", "livenessProbe")) {
        assertEquals(ports.get("health"), get(c, probe, "grpc", "port"), service + " " + probe);
      }
      assertEquals("grpc", get(all.get("Service/" + service), "spec", "ports", 0, "targetPort"));

      // TLS material: a secret, mounted read-only where the settings look for it
      String mount = null;
      for (Object m : (List<Object>) get(c, "volumeMounts")) {
        if ("tls".equals(get(m, "name"))) {
          assertEquals(Boolean.TRUE, get(m, "readOnly"), service);
          mount = get(m, "mountPath");
        }
      }
      assertNotNull(mount, service + " mounts its TLS material");
      boolean fromSecret = false;
      for (Object v : (List<Object>) get(deployment, "spec", "template", "spec", "volumes")) {
        if ("tls".equals(get(v, "name"))) {
          fromSecret = get(v, "secret", "secretName") != null;
        }
      }
      assertTrue(fromSecret, service + ": TLS material from a Secret");
      for (String key : List.of("TLS_CA", "TLS_CERT", "TLS_KEY")) {
        assertTrue(settings.get(prefix + key).startsWith(mount + "/"), service + " " + key);
      }
      assertTrue((List<Object>) get(c, "envFrom") != null, service + " takes its settings from the ConfigMap");

      // the ConfigMap's settings are ones the service accepts (TLS files stand in as empty files)
      Map<String, String> env = new HashMap<>(settings);
      for (String key : List.of("TLS_CA", "TLS_CERT", "TLS_KEY")) {
        Path f = Files.createFile(tmp.resolve(service + "-" + key));
        env.put(prefix + key, f.toString());
      }
      if (service.equals("stratus-conductor")) {
        env.put(prefix + "DB_URL", "jdbc:postgresql://db:5432/stratus");
        env.put(prefix + "DB_USER", "stratus");
        ConductorConfig config = ConfigLoader.load(null, env);
        assertEquals(8080, config.health().port());
        assertEquals("stratus-image-gateway:" + get(all.get("Service/stratus-image-gateway"),
            "spec", "ports", 0, "port"), config.gatewayAddress(), "the gateway's Service");
      } else {
        GatewayConfig config = GatewayConfig.load(null, env);
        assertEquals(8080, config.health().port());
        assertEquals("rbd", config.backend(), "replicas need a shared store");
        assertEquals("stratus-conductor:" + get(all.get("Service/stratus-conductor"),
            "spec", "ports", 0, "port"), config.identityAddress(), "the conductor's Service");
      }
    }
  }

  @Test
  void theMigrationJobRunsTheFlywayEntryPointWithTheConductorsDatabaseSecret() throws Exception {
    Map<String, Map<String, Object>> all = objects();
    Map<String, Object> job = all.get("Job/stratus-conductor-migrate");
    assertNotNull(job);
    Map<String, Object> c = container(job);
    assertEquals(releaseImage(), c.get("image"));
    List<String> command = get(c, "command");
    String main = command.get(command.size() - 1);
    assertEquals("io.stratus.conductor.db.MigrateMain", main);
    assertNotNull(Class.forName(main).getMethod("main", String[].class), "the class exists");
    assertTrue(List.of("OnFailure", "Never").contains(get(job, "spec", "template", "spec", "restartPolicy")));
    assertTrue(get(job, "spec", "backoffLimit") instanceof Integer);
    String dbSecret = get(c, "envFrom", 0, "secretRef", "name");
    List<String> conductorSecrets = new ArrayList<>();
    for (Object from : (List<Object>) get(container(all.get("Deployment/stratus-conductor")), "envFrom")) {
      String name = get(from, "secretRef", "name");
      if (name != null) {
        conductorSecrets.add(name);
      }
    }
    assertTrue(conductorSecrets.contains(dbSecret), "the same database as the conductors");
  }

  @Test
  void nothingRunsAsRootOrEscalates() throws Exception {
    for (var e : objects().entrySet()) {
      if (!e.getKey().startsWith("Deployment/") && !e.getKey().startsWith("Job/")) {
        continue;
      }
      Map<String, Object> o = e.getValue();
      assertEquals(Boolean.TRUE, get(o, "spec", "template", "spec", "securityContext", "runAsNonRoot"), e.getKey());
      Map<String, Object> c = container(o);
      assertEquals(Boolean.FALSE, get(c, "securityContext", "allowPrivilegeEscalation"), e.getKey());
      assertEquals(List.of("ALL"), get(c, "securityContext", "capabilities", "drop"), e.getKey());
      assertFalse(String.valueOf(c.get("image")).endsWith(":latest"), e.getKey());
    }
  }
}
