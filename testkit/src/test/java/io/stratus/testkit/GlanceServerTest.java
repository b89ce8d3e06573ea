package io.stratus.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Runs a real Glance through {@code deploy/scripts/glance-up.sh} and the v2 image API. */
class GlanceServerTest {

    private static final Logger LOG = LoggerFactory.getLogger(GlanceServerTest.class);
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);
    private static final int IMAGE_SIZE = 1024 * 1024;

    private final HttpClient http = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(10))
            .version(HttpClient.Version.HTTP_1_1)
            .build();

    @Test
    @Timeout(value = 25, unit = TimeUnit.MINUTES) // the first run may install the Debian packages
    void imageLifecycleAndCloseRemovesEverything() throws Exception {
        long startNanos = System.nanoTime();
        GlanceServer glance = GlanceServer.start();
        long startedNanos = System.nanoTime();
        Path dir = glance.dir();
        long pid = glance.pid();
        try {
            URI url = glance.url();
            assertEquals("http", url.getScheme());
            assertEquals("127.0.0.1", url.getHost());
            assertTrue(Files.isDirectory(dir), dir::toString);
            assertTrue(Processes.isRunning(pid), "glance-api pid " + pid + " should be running");

            byte[] data = new byte[IMAGE_SIZE];
            new Random(42).nextBytes(data);

            // Create: 201, queued.
            HttpResponse<String> created = send(HttpRequest.newBuilder(url.resolve("/v2/images"))
                    .header("Content-Type", "application/json")
                    .header("Accept", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"name\": \"stratus-glance-test\","
                            + " \"disk_format\": \"raw\", \"container_format\": \"bare\"}")));
            assertEquals(201, created.statusCode(), created::body);
            assertEquals("queued", jsonString(created.body(), "status"));
            String id = jsonString(created.body(), "id");
            assertNotNull(id, created::body);
            URI image = url.resolve("/v2/images/" + id);
            URI file = url.resolve("/v2/images/" + id + "/file");

            // Upload 1 MiB: 204.
            HttpResponse<String> uploaded = send(HttpRequest.newBuilder(file)
                    .header("Content-Type", "application/octet-stream")
                    .header("Accept", "application/json")
                    .PUT(HttpRequest.BodyPublishers.ofByteArray(data)));
            assertEquals(204, uploaded.statusCode(), uploaded::body);

            // Metadata: active, md5 checksum, sha512 multihash.
            HttpResponse<String> shown = send(HttpRequest.newBuilder(image).header("Accept", "application/json").GET());
            assertEquals(200, shown.statusCode(), shown::body);
            assertEquals("active", jsonString(shown.body(), "status"), shown::body);
            assertEquals(hex("MD5", data), jsonString(shown.body(), "checksum"), shown::body);
            assertEquals("sha512", jsonString(shown.body(), "os_hash_algo"), shown::body);
            assertEquals(hex("SHA-512", data), jsonString(shown.body(), "os_hash_value"), shown::body);
            assertEquals(String.valueOf(IMAGE_SIZE), jsonNumber(shown.body(), "size"), shown::body);

            // Download: the same bytes.
            HttpResponse<byte[]> downloaded = http.send(HttpRequest.newBuilder(file).timeout(REQUEST_TIMEOUT).GET()
                    .build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, downloaded.statusCode());
            assertArrayEquals(data, downloaded.body());
            LOG.info("glance-api pid {} after 1 MiB up and down: {}", pid, rss(pid));

            // Delete: 204, then 404.
            HttpResponse<String> deleted = send(HttpRequest.newBuilder(image).header("Accept", "application/json")
                    .DELETE());
            assertEquals(204, deleted.statusCode(), deleted::body);
            HttpResponse<String> gone = send(HttpRequest.newBuilder(image).header("Accept", "application/json").GET());
            assertEquals(404, gone.statusCode(), gone::body);
        } finally {
            long stoppingNanos = System.nanoTime();
            glance.close();
            LOG.info("Glance: start {} ms, stop {} ms", TimeUnit.NANOSECONDS.toMillis(startedNanos - startNanos),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stoppingNanos));
        }

        assertFalse(Processes.isRunning(pid), "glance-api pid " + pid + " should be gone after close()");
        assertFalse(Files.exists(dir), dir + " should be removed by close()");
        glance.close(); // idempotent
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws IOException, InterruptedException {
        return http.send(request.timeout(REQUEST_TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String rss(long pid) {
        try {
            return Files.readAllLines(Paths.get("/proc/" + pid + "/status"), StandardCharsets.UTF_8).stream()
                    .filter(line -> line.startsWith("VmRSS:") || line.startsWith("VmHWM:"))
                    .map(line -> line.replaceAll("\\s+", " "))
                    .reduce((a, b) -> a + ", " + b).orElse("?");
        } catch (IOException e) {
            return "? (" + e + ")";
        }
    }

    private static String hex(String algorithm, byte[] data) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance(algorithm).digest(data));
    }

    /** The first top-level-looking {@code "key": "value"} in a JSON text (enough for Glance's flat image JSON). */
    private static String jsonString(String json, String key) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*\"([^\"]*)\"").matcher(json);
        return m.find() ? m.group(1) : null;
    }

    private static String jsonNumber(String json, String key) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*(\\d+)").matcher(json);
        return m.find() ? m.group(1) : null;
    }
}
