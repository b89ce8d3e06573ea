package io.stratus.cli;

import io.grpc.Context;
import java.util.Iterator;
import java.util.function.Supplier;

/**
 * A blocking server-streaming call that can be left early: the call is started in its own
 * cancellable context, and {@link #close} cancels it, so the server stops sending.
 */
public final class CancellableStream<T> implements Iterator<T>, AutoCloseable {
  private final Context.CancellableContext context;
  private final Iterator<T> messages;

  private CancellableStream(Context.CancellableContext context, Iterator<T> messages) {
    this.context = context;
    this.messages = messages;
  }

  /** Starts {@code call} (a blocking stub's streaming method) in a cancellable context. */
  public static <T> CancellableStream<T> open(Supplier<Iterator<T>> call) {
    Context.CancellableContext context = Context.current().withCancellation();
    Context previous = context.attach();
    try {
      return new CancellableStream<>(context, call.get());
    } catch (RuntimeException e) {
      context.cancel(e);
      throw e;
    } finally {
      context.detach(previous);
    }
  }

  @Override
  public boolean hasNext() {
    return messages.hasNext();
  }

  @Override
  public T next() {
    return messages.next();
  }

  /** Cancels the call (a no-op once it has ended). */
  @Override
  public void close() {
    context.cancel(null);
  }
}
