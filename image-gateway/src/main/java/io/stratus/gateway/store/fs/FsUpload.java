package io.stratus.gateway.store.fs;

import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.store.ExtentSource;
import io.stratus.gateway.store.UploadSink;
import io.stratus.support.errors.ApiException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One upload into a private sparse file: data extents are written at their offsets, zero
 * extents are left as holes. Every {@link #SYNC_EVERY} bytes the file is fsynced and the
 * durable offset and extents are recorded, so an interrupted upload can resume there. The
 * fsync runs on its own thread while the upload goes on (one at a time): receiving never
 * waits for the disk, which writes back in the background as it would for a plain copy.
 */
final class FsUpload implements UploadSink {
  private static final Logger LOG = LoggerFactory.getLogger(FsUpload.class);
  static final long SYNC_EVERY = 64L << 20;

  private final FilesystemBackend store;
  private final String id;
  private final String uploadId;
  private final Path file;
  private final Path state;
  private final RandomAccessFile raf;
  private final FileChannel channel;
  private final ExtentMap extents;
  private final ExecutorService syncer = Executors.newSingleThreadExecutor(
      Thread.ofPlatform().daemon().name("fs-upload-sync").factory());
  private Future<?> syncing;
  private volatile long durable;
  private long position;
  private long sinceSync;
  private boolean ended;

  private FsUpload(FilesystemBackend store, String id, String uploadId, ExtentMap extents,
      long durable) throws IOException {
    this.store = store;
    this.id = id;
    this.uploadId = uploadId;
    this.file = store.partialData(id, uploadId);
    this.state = store.partialState(id, uploadId);
    this.raf = new RandomAccessFile(file.toFile(), "rw");
    this.channel = raf.getChannel();
    this.extents = extents;
    this.durable = durable;
    this.position = durable;
  }

  static FsUpload open(FilesystemBackend store, String id, String uploadId, long resumeOffset)
      throws IOException {
    if (resumeOffset == 0) {
      Files.deleteIfExists(store.partialData(id, uploadId));
      Files.deleteIfExists(store.partialState(id, uploadId));
      return new FsUpload(store, id, uploadId, new ExtentMap(), 0);
    }
    Path statePath = store.partialState(id, uploadId);
    long[] durable = new long[1];
    ExtentMap map;
    try {
      map = ExtentMap.read(statePath, durable);
    } catch (NoSuchFileException e) {
      throw ApiException.failedPrecondition("upload " + uploadId + " of image " + id
          + " has nothing to resume; start again at offset 0");
    }
    if (resumeOffset > durable[0]) {
      throw ApiException.failedPrecondition("resume_offset " + resumeOffset
          + " is past the durable offset " + durable[0] + " of upload " + uploadId);
    }
    map.truncate(resumeOffset);
    FsUpload upload = new FsUpload(store, id, uploadId, map, resumeOffset);
    // Bytes the interrupted attempt wrote past the resume point must not survive in what
    // may become a hole.
    upload.raf.setLength(resumeOffset);
    return upload;
  }

  static long durableOffsetOf(Path state) throws IOException {
    try {
      long[] durable = new long[1];
      ExtentMap.read(state, durable);
      return durable[0];
    } catch (NoSuchFileException e) {
      return 0;
    }
  }

  @Override
  public void data(long offset, ByteBuffer bytes) throws IOException {
    long length = bytes.remaining();
    long at = offset;
    while (bytes.hasRemaining()) {
      at += channel.write(bytes, at);
    }
    extents.add(offset, length);
    advance(offset + length, length);
  }

  @Override
  public void zero(long offset, long length) throws IOException {
    advance(offset + length, 0);  // a hole: nothing written
  }

  private void advance(long end, long written) throws IOException {
    position = end;
    sinceSync += written;
    if (sinceSync >= SYNC_EVERY && (syncing == null || syncing.isDone())) {
      awaitSync();  // rethrows the previous sync's failure
      long at = position;
      byte[] map = extents.encode(at);
      sinceSync = 0;
      syncing = syncer.submit(() -> {
        channel.force(false);  // covers every byte written before `at`
        AtomicFiles.write(state, map);
        durable = at;
        return null;
      });
    }
  }

  /** Waits for the background sync in flight, if any; its failure is this upload's. */
  private void awaitSync() throws IOException {
    if (syncing == null) {
      return;
    }
    try {
      syncing.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while syncing the upload");
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    } finally {
      syncing = null;
    }
  }

  private void sync() throws IOException {
    awaitSync();
    channel.force(false);
    AtomicFiles.write(state, extents.encode(position));
    durable = position;
    sinceSync = 0;
  }

  @Override
  public long durableOffset() {
    return durable;
  }

  @Override
  public ExtentSource durablePrefix() throws IOException {
    ExtentMap prefix = new ExtentMap();
    extents.runs().forEach(r -> prefix.add(r.offset(), r.length()));
    return new FsExtentSource(file, prefix, durable);
  }

  @Override
  public ImageRecord commit(long virtualSize, String contentDigest, boolean checksumPending)
      throws IOException {
    awaitSync();
    syncer.shutdown();
    raf.setLength(virtualSize);  // the tail past the last extent is a hole too
    channel.force(true);
    channel.close();
    raf.close();
    // Only a successful publish ends the upload: if it fails, abort() still re-queues.
    ImageRecord active = store.publish(id, file, extents, virtualSize, contentDigest,
        checksumPending);
    ended = true;
    Files.deleteIfExists(state);
    return active;
  }

  @Override
  public void abort(boolean keepForResume) {
    if (ended) {
      return;
    }
    ended = true;
    try {
      try {
        awaitSync();
      } catch (IOException e) {
        LOG.warn("a background sync of an aborted upload failed; image={} upload={}", id, uploadId, e);
      }
      syncer.shutdown();
      if (keepForResume && position > 0) {
        sync();
      }
      channel.close();
      raf.close();
      if (!keepForResume || durable == 0) {
        Files.deleteIfExists(file);
        Files.deleteIfExists(state);
      }
    } catch (IOException e) {
      LOG.warn("could not clean up an aborted upload; image={} upload={}", id, uploadId, e);
    }
    store.requeue(id);
  }
}
