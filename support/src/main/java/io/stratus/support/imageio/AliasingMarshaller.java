package io.stratus.support.imageio;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.ExtensionRegistryLite;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import com.google.protobuf.UnsafeByteOperations;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.protobuf.ProtoUtils;
import java.io.IOException;
import java.io.InputStream;

/**
 * A protobuf marshaller for messages that carry image bytes (up to 4 MiB of data plus a few
 * bytes of framing). gRPC's default parses a message larger than 4 MiB through a stream
 * decoder that reads a {@code bytes} field in 4 KiB pieces and copies it twice more; this
 * one reads the message once into an array of its exact size and parses it with aliasing,
 * so the {@code bytes} field is a view of that array: one copy from the network buffer, no
 * other. Serialising is gRPC's own. Messages without a known length fall back to it too.
 */
public final class AliasingMarshaller<T extends Message> implements MethodDescriptor.Marshaller<T> {
  private final MethodDescriptor.Marshaller<T> standard;
  private final Parser<T> parser;

  @SuppressWarnings("unchecked")
  private AliasingMarshaller(T defaultInstance) {
    this.standard = ProtoUtils.marshaller(defaultInstance);
    this.parser = (Parser<T>) defaultInstance.getParserForType();
  }

  /** A marshaller for messages of {@code defaultInstance}'s type. */
  public static <T extends Message> AliasingMarshaller<T> of(T defaultInstance) {
    return new AliasingMarshaller<>(defaultInstance);
  }

  @Override
  public InputStream stream(T value) {
    return standard.stream(value);
  }

  @Override
  public T parse(InputStream stream) {
    if (!(stream instanceof KnownLength)) {
      return standard.parse(stream);
    }
    try {
      int size = stream.available();
      byte[] bytes = new byte[size];
      int read = stream.readNBytes(bytes, 0, size);
      if (read != size || stream.read() != -1) {
        return standard.parse(stream);  // not what KnownLength promised: let gRPC decide
      }
      CodedInputStream in = UnsafeByteOperations.unsafeWrap(bytes).newCodedInput();
      in.enableAliasing(true);  // bytes fields become views of `bytes`, which nobody else holds
      in.setSizeLimit(Integer.MAX_VALUE);
      T message = parser.parseFrom(in, ExtensionRegistryLite.getEmptyRegistry());
      in.checkLastTagWas(0);
      return message;
    } catch (InvalidProtocolBufferException e) {
      throw Status.INTERNAL.withDescription("invalid protobuf byte sequence").withCause(e)
          .asRuntimeException();
    } catch (IOException e) {
      throw Status.INTERNAL.withDescription("could not read the message").withCause(e)
          .asRuntimeException();
    }
  }
}
