package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.support.grpc.RequestIds;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * One request id per API call, Nova's way: the answer's {@value RequestIds#HEADER} header,
 * the accepted request's id, the action's, the agent operation's and the MDC of the
 * conductor's log lines for it are all the same; a client cannot choose it.
 */
class RequestIdTest extends ConductorTest {

  @Test
  void theAnswersHeaderTheActionTheOperationAndTheLogLinesShareOneId() throws Exception {
    String id = h.bootActive("request-ids");
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    root.addAppender(logs);
    AtomicReference<Metadata> headers = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    Metadata chosen = new Metadata();
    chosen.put(Metadata.Key.of(RequestIds.HEADER, Metadata.ASCII_STRING_MARSHALLER),
        "req-chosen-by-the-client");
    String requestId;
    try {
      requestId = h.servers(MEMBER_A)
          .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(chosen),
              MetadataUtils.newCaptureMetadataInterceptor(headers, trailers))
          .createImage(CreateImageRequest.newBuilder().setServerId(id).setName("ids").build())
          .getRequestId();
      h.awaitIdle(id);
    } finally {
      root.detachAppender(logs);
    }
    assertTrue(requestId.startsWith("req-"), requestId);
    assertNotEquals("req-chosen-by-the-client", requestId);
    assertEquals(requestId, headers.get().get(
        Metadata.Key.of(RequestIds.HEADER, Metadata.ASCII_STRING_MARSHALLER)));
    assertEquals(requestId, h.string("SELECT request_id FROM instance_actions WHERE"
        + " instance_uuid = ?::uuid AND action = 'createImage'", id));
    assertTrue(h.agent.calls().stream().anyMatch(c -> c.rpc().equals("Snapshot")
        && c.operationId().equals(requestId)), "the agent's operation id");
    ILoggingEvent accepted = logs.list.stream()
        .filter(e -> e.getFormattedMessage().startsWith("snapshot accepted")).findFirst()
        .orElseThrow();
    assertEquals(requestId, accepted.getMDCPropertyMap().get(RequestIds.MDC_KEY));
  }
}
