package io.stratus.testkit;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.DynamicMessage;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.ProtoServiceDescriptorSupplier;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;

/**
 * Calls every method of a gRPC service, read from its proto descriptor (so a new RPC is
 * covered without editing a test), once per malformed value of each request field: empty,
 * blank, control characters, NUL, huge, path-like and non-UUID strings; negative and huge
 * numbers; unknown enum numbers; oversized maps and lists; one level into nested messages.
 * Client- and bidi-streaming methods get the malformed message as their only message. Each
 * call's status is returned; a test asserts none is UNKNOWN or INTERNAL and that nothing
 * was left behind.
 */
public final class BadInputSweep {
  /**
   * One malformed call and how it ended.
   *
   * @param method the full method name
   * @param field the field path set to {@code value}
   * @param value a short description of the value
   * @param status how the call ended
   */
  public record Outcome(String method, String field, String value, Status status) {
    @Override
    public String toString() {
      return method + " " + field + "=" + value + " -> " + status.getCode() + ": "
          + status.getDescription();
    }
  }

  private record Value(String label, Object value) {}

  /**
   * The outcomes a client mistake must never produce: UNKNOWN, INTERNAL, or no answer
   * (DEADLINE_EXCEEDED, except for {@code Watch*} streams, which run until cancelled).
   */
  public static List<Outcome> failures(List<Outcome> outcomes) {
    return outcomes.stream()
        .filter(o -> o.status().getCode() == Status.Code.UNKNOWN
            || o.status().getCode() == Status.Code.INTERNAL
            || (o.status().getCode() == Status.Code.DEADLINE_EXCEEDED
                && !o.method().contains("/Watch")))
        .toList();
  }

  /** The failures as a message: how many of how many calls, one line each. */
  public static String describe(List<Outcome> failures, int calls) {
    return failures.size() + " of " + calls + " calls:\n"
        + String.join("\n", failures.stream().map(Object::toString).toList());
  }

  private BadInputSweep() {}

  /**
   * Sweeps {@code service} over {@code channel}; {@code headers} go with every call (a
   * token); methods whose bare name {@code skip} accepts are left out.
   */
  public static List<Outcome> sweep(Channel channel, io.grpc.ServiceDescriptor service,
      Metadata headers, Predicate<String> skip) {
    ServiceDescriptor proto =
        ((ProtoServiceDescriptorSupplier) service.getSchemaDescriptor()).getServiceDescriptor();
    List<Outcome> outcomes = new ArrayList<>();
    for (MethodDescriptor m : proto.getMethods()) {
      if (skip.test(m.getName())) {
        continue;
      }
      for (FieldDescriptor f : m.getInputType().getFields()) {
        for (Value v : values(f)) {
          DynamicMessage.Builder b = DynamicMessage.newBuilder(m.getInputType());
          set(b, f, v.value());
          outcomes.add(new Outcome(proto.getFullName() + "/" + m.getName(), f.getName(),
              v.label(), call(channel, m, b.build(), headers)));
        }
        if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !f.isRepeated()
            && !f.isMapField()) {
          for (FieldDescriptor inner : f.getMessageType().getFields()) {
            for (Value v : values(inner)) {
              DynamicMessage.Builder nested = DynamicMessage.newBuilder(f.getMessageType());
              set(nested, inner, v.value());
              DynamicMessage.Builder b = DynamicMessage.newBuilder(m.getInputType());
              b.setField(f, nested.build());
              outcomes.add(new Outcome(proto.getFullName() + "/" + m.getName(),
                  f.getName() + "." + inner.getName(), v.label(),
                  call(channel, m, b.build(), headers)));
            }
          }
        }
      }
    }
    return outcomes;
  }

  private static void set(DynamicMessage.Builder b, FieldDescriptor f, Object value) {
    if (f.isMapField() || f.isRepeated()) {
      for (Object o : (List<?>) value) {
        b.addRepeatedField(f, o);
      }
    } else {
      b.setField(f, value);
    }
  }

  private static List<Value> values(FieldDescriptor f) {
    if (f.isMapField()) {
      Descriptor entry = f.getMessageType();
      FieldDescriptor k = entry.findFieldByName("key");
      FieldDescriptor v = entry.findFieldByName("value");
      if (k.getJavaType() != FieldDescriptor.JavaType.STRING
          || v.getJavaType() != FieldDescriptor.JavaType.STRING) {
        return List.of();
      }
      List<Object> many = new ArrayList<>();
      for (int i = 0; i < 300; i++) {
        many.add(entry(entry, k, v, "k" + i, "v"));
      }
      return List.of(
          new Value("300 entries", many),
          new Value("empty key", List.of(entry(entry, k, v, "", "v"))),
          new Value("NUL in key", List.of(entry(entry, k, v, "a\u0000b", "v"))),
          new Value("70000-char value", List.of(entry(entry, k, v, "k", "v".repeat(70_000)))),
          new Value("reserved key", List.of(entry(entry, k, v, "id", "x"))));
    }
    List<Value> singles = switch (f.getJavaType()) {
      case STRING -> List.of(
          new Value("empty", ""), new Value("blank", "   "), new Value("NUL", "a\u0000b"),
          new Value("newline", "a\nb"), new Value("70000 chars", "x".repeat(70_000)),
          new Value("path", "../../../etc/passwd"), new Value("not a UUID", "not-a-uuid"),
          new Value("unknown UUID", "6f1c0d55-0000-4000-8000-00000000dead"));
      case INT -> List.of(new Value("-1", -1), new Value("MIN", Integer.MIN_VALUE),
          new Value("MAX", Integer.MAX_VALUE));
      case LONG -> List.of(new Value("-1", -1L), new Value("MIN", Long.MIN_VALUE),
          new Value("MAX", Long.MAX_VALUE), new Value("2^62", 1L << 62));
      case ENUM -> List.of(new Value("unknown number 999",
          f.getEnumType().findValueByNumberCreatingIfUnknown(999)));
      case BYTE_STRING -> List.of(new Value("1 MiB", ByteString.copyFrom(new byte[1 << 20])));
      case BOOLEAN -> List.of(new Value("true", true));
      default -> List.<Value>of();
    };
    if (!f.isRepeated()) {
      return singles;
    }
    List<Value> repeated = new ArrayList<>();
    for (Value v : singles) {
      repeated.add(new Value("[" + v.label() + "]", List.of(v.value())));
    }
    if (f.getJavaType() == FieldDescriptor.JavaType.STRING) {
      List<Object> many = new ArrayList<>();
      for (int i = 0; i < 10_000; i++) {
        many.add("x" + i);
      }
      repeated.add(new Value("10000 entries", many));
    }
    return repeated;
  }

  private static DynamicMessage entry(Descriptor entry, FieldDescriptor k, FieldDescriptor v,
      String key, String value) {
    return DynamicMessage.newBuilder(entry).setField(k, key).setField(v, value).build();
  }

  private static Status call(Channel channel, MethodDescriptor m, DynamicMessage request,
      Metadata headers) {
    io.grpc.MethodDescriptor.MethodType type = m.isClientStreaming()
        ? (m.isServerStreaming() ? io.grpc.MethodDescriptor.MethodType.BIDI_STREAMING
            : io.grpc.MethodDescriptor.MethodType.CLIENT_STREAMING)
        : (m.isServerStreaming() ? io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING
            : io.grpc.MethodDescriptor.MethodType.UNARY);
    io.grpc.MethodDescriptor<DynamicMessage, DynamicMessage> method =
        io.grpc.MethodDescriptor.<DynamicMessage, DynamicMessage>newBuilder()
            .setType(type)
            .setFullMethodName(io.grpc.MethodDescriptor.generateFullMethodName(
                m.getService().getFullName(), m.getName()))
            .setRequestMarshaller(ProtoUtils.marshaller(
                DynamicMessage.getDefaultInstance(m.getInputType())))
            .setResponseMarshaller(ProtoUtils.marshaller(
                DynamicMessage.getDefaultInstance(m.getOutputType())))
            .build();
    Channel withHeaders = io.grpc.ClientInterceptors.intercept(channel,
        io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers));
    CallOptions options = CallOptions.DEFAULT.withDeadlineAfter(15, TimeUnit.SECONDS);
    try {
      switch (type) {
        case UNARY -> ClientCalls.blockingUnaryCall(withHeaders, method, options, request);
        case SERVER_STREAMING -> {
          Context.CancellableContext ctx = Context.current().withCancellation();
          try {
            return ctx.call(() -> {
              Iterator<DynamicMessage> it =
                  ClientCalls.blockingServerStreamingCall(withHeaders, method, options, request);
              for (int i = 0; i < 3 && it.hasNext(); i++) {
                it.next();
              }
              // accepted (a stream may still be going: it is cancelled below)
              return Status.OK;
            });
          } catch (StatusRuntimeException e) {
            throw e;
          } catch (Exception e) {
            return Status.fromThrowable(e);
          } finally {
            ctx.cancel(null);
          }
        }
        default -> {
          CompletableFuture<Status> end = new CompletableFuture<>();
          ClientCall<DynamicMessage, DynamicMessage> call = withHeaders.newCall(method, options);
          StreamObserver<DynamicMessage> out = ClientCalls.asyncBidiStreamingCall(call,
              new StreamObserver<>() {
                @Override
                public void onNext(DynamicMessage value) {}

                @Override
                public void onError(Throwable t) {
                  end.complete(Status.fromThrowable(t));
                }

                @Override
                public void onCompleted() {
                  end.complete(Status.OK);
                }
              });
          out.onNext(request);
          out.onCompleted();
          try {
            return end.get(20, TimeUnit.SECONDS);
          } catch (TimeoutException e) {
            call.cancel("sweep: no answer", null);
            return Status.DEADLINE_EXCEEDED.withDescription("no answer in 20 s");
          } catch (ExecutionException e) {
            return Status.fromThrowable(e.getCause());
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Status.CANCELLED;
          }
        }
      }
      return Status.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus();
    }
  }
}
