package io.stratus.gateway.store.glance;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.SubmissionPublisher;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The body of one streaming HTTP request, fed by the thread that receives the upload: a
 * {@link Flow.Publisher} with a bounded buffer of {@value #CAPACITY} slices that only
 * hands the HTTP client what it asked for (demand), so the writer blocks when Glance
 * reads slowly and memory stays at a few extents whatever the image size. Zeros are
 * written as slices of one shared read-only buffer, so a long run of zeros costs no
 * memory either.
 *
 * <p>The body can be subscribed once: the HTTP client must never replay it (a second
 * subscriber gets an error, so a retried exchange fails instead of sending a truncated
 * body).
 */
final class BodyPipe implements Flow.Publisher<ByteBuffer> {
  /** Buffers queued ahead of the HTTP client (a power of two, as the publisher wants). */
  static final int CAPACITY = 4;
  /** Largest buffer handed to the HTTP client (one chunk of the chunked body). */
  static final int SLICE = 1 << 20;
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(SLICE).asReadOnlyBuffer();

  private final SubmissionPublisher<ByteBuffer> publisher;
  private final Duration stallTimeout;
  private final AtomicBoolean taken = new AtomicBoolean();
  private final CompletableFuture<Void> subscribed = new CompletableFuture<>();
  private long written;

  /**
   * @param executor runs the delivery of buffers to the HTTP client
   * @param stallTimeout longest a write may wait for the HTTP client to take a buffer
   */
  BodyPipe(Executor executor, Duration stallTimeout) {
    this.publisher = new SubmissionPublisher<>(executor, CAPACITY);
    this.stallTimeout = stallTimeout;
  }

  @Override
  public void subscribe(Flow.Subscriber<? super ByteBuffer> subscriber) {
    if (!taken.compareAndSet(false, true)) {
      subscriber.onSubscribe(new Flow.Subscription() {
        @Override
        public void request(long n) {}

        @Override
        public void cancel() {}
      });
      subscriber.onError(new IOException("a streamed upload body cannot be sent twice"));
      return;
    }
    publisher.subscribe(subscriber);
    subscribed.complete(null);
  }

  /** Bytes handed to the HTTP client so far. */
  long written() {
    return written;
  }

  /**
   * Queues {@code data} (from its position to its limit) in slices of at most {@value
   * #SLICE} bytes, so at most about {@code CAPACITY × SLICE} bytes wait whatever the
   * extent size; blocks while the buffer is full. The caller must not change the bytes.
   */
  void write(ByteBuffer data) throws IOException {
    ByteBuffer rest = data.slice();
    while (rest.hasRemaining()) {
      int n = Math.min(rest.remaining(), SLICE);
      offer(rest.slice(rest.position(), n));
      rest.position(rest.position() + n);
      written += n;
    }
  }

  /** Queues {@code length} zero bytes. */
  void writeZeros(long length) throws IOException {
    long left = length;
    while (left > 0) {
      int n = (int) Math.min(left, SLICE);
      offer(ZEROS.duplicate().limit(n));
      written += n;
      left -= n;
    }
  }

  private void offer(ByteBuffer item) throws IOException {
    awaitSubscriber();
    if (publisher.isClosed()) {
      throw new IOException("the upload body is already closed");
    }
    if (publisher.getNumberOfSubscribers() == 0) {
      throw new IOException("the HTTP client stopped reading the upload body");
    }
    int lag;
    try {
      lag = publisher.offer(item, stallTimeout.toMillis(), TimeUnit.MILLISECONDS, (s, i) -> false);
    } catch (IllegalStateException closed) {
      throw new IOException("the upload body is already closed", closed);
    }
    if (Thread.interrupted()) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while writing the upload body");
    }
    if (lag < 0) {
      throw new IOException("Glance took no data for " + stallTimeout.toSeconds() + " s");
    }
  }

  private void awaitSubscriber() throws IOException {
    try {
      subscribed.get(stallTimeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for the upload to connect");
    } catch (TimeoutException e) {
      throw new IOException("the upload did not connect to Glance within "
          + stallTimeout.toSeconds() + " s", e);
    } catch (ExecutionException e) {
      throw new IOException(e.getCause());
    }
  }

  /** Ends the body normally: the HTTP client sends what is queued, then the last chunk. */
  void finish() {
    publisher.close();
  }

  /** Ends the body with an error: the HTTP client abandons the request mid-body. */
  void fail(Throwable why) {
    publisher.closeExceptionally(why);
    subscribed.completeExceptionally(why);
  }
}
