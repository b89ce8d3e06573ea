package io.stratus.support.digest;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;

/**
 * md5 and sha512 of an image's guest-visible content, fed in offset order; holes are fed
 * as zeros, so the digests equal those of the full raw image (what Glance reports). The
 * two digests run concurrently on two threads, each in feeding order; at most
 * {@link #MAX_PENDING} buffers are outstanding, so memory stays flat. Callers must not
 * modify a buffer after handing it over. Not thread-safe: one feeder.
 */
public final class ContentDigests implements AutoCloseable {
  /** Buffers handed over but not yet hashed by both digests. */
  public static final int MAX_PENDING = 2;

  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();

  private final MessageDigest md5;
  private final MessageDigest sha512;
  private final ExecutorService md5Thread = Executors.newSingleThreadExecutor(
      Thread.ofVirtual().name("md5").factory());
  private final ExecutorService shaThread = Executors.newSingleThreadExecutor(
      Thread.ofVirtual().name("sha512").factory());
  private final Semaphore pending = new Semaphore(2 * MAX_PENDING);
  private Future<?> lastMd5;
  private Future<?> lastSha;
  private String md5Hex;
  private String sha512Hex;

  public ContentDigests() {
    try {
      md5 = MessageDigest.getInstance("MD5");
      sha512 = MessageDigest.getInstance("SHA-512");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK lacks MD5 or SHA-512", e);
    }
  }

  /** Feeds bytes (from their position to their limit). */
  public void data(ByteBuffer bytes) {
    ByteBuffer view = bytes.asReadOnlyBuffer();
    submit(() -> md5.update(view.duplicate()), () -> sha512.update(view.duplicate()));
  }

  /** Feeds {@code length} zero bytes (a hole). */
  public void zeros(long length) {
    if (length > 0) {
      submit(() -> feedZeros(md5, length), () -> feedZeros(sha512, length));
    }
  }

  private static void feedZeros(MessageDigest d, long length) {
    for (long left = length; left > 0; ) {
      int n = (int) Math.min(left, ZEROS.capacity());
      d.update(ZEROS.duplicate().limit(n));
      left -= n;
    }
  }

  private void submit(Runnable toMd5, Runnable toSha) {
    pending.acquireUninterruptibly(2);
    lastMd5 = md5Thread.submit(() -> {
      try {
        toMd5.run();
      } finally {
        pending.release();
      }
    });
    lastSha = shaThread.submit(() -> {
      try {
        toSha.run();
      } finally {
        pending.release();
      }
    });
  }

  private void finish() {
    if (md5Hex != null) {
      return;
    }
    try {
      if (lastMd5 != null) {
        lastMd5.get();
        lastSha.get();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while hashing", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("hashing failed", e.getCause());
    }
    md5Hex = HexFormat.of().formatHex(md5.digest());
    sha512Hex = HexFormat.of().formatHex(sha512.digest());
    close();
  }

  /** md5 of everything fed (ends feeding). */
  public String md5Hex() {
    finish();
    return md5Hex;
  }

  /** sha512 of everything fed (ends feeding). */
  public String sha512Hex() {
    finish();
    return sha512Hex;
  }

  /** Stops the hashing threads (also when the content is abandoned). */
  @Override
  public void close() {
    md5Thread.shutdownNow();
    shaThread.shutdownNow();
  }
}
