package io.stratus.support.imageio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.ProtoUtils;
import io.stratus.proto.image.v1.DataExtent;
import io.stratus.proto.image.v1.UploadImageRequest;
import java.io.ByteArrayInputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The byte-path helpers shared by the agent, the gateway and the CLI. */
class ImageIoTest {
  @TempDir Path dir;

  @Test
  void sparseFilesReportsTheDataRangesOfASparseFile() throws Exception {
    Path f = dir.resolve("sparse.raw");
    long mib = 1 << 20;
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.setLength(64 * mib);
      raf.seek(8 * mib);
      raf.write(new byte[(int) mib]);  // zeros written are data, not a hole
      raf.seek(40 * mib);
      raf.write(new byte[] {1, 2, 3});
    }
    List<SparseFiles.Range> ranges = SparseFiles.dataRanges(f, 64 * mib);
    assertEquals(2, ranges.size(), ranges.toString());
    assertEquals(8 * mib, ranges.get(0).offset());
    assertEquals(mib, ranges.get(0).length());
    assertEquals(40 * mib, ranges.get(1).offset());  // block-aligned by the file system
    assertEquals(List.of(), SparseFiles.dataRanges(dir.resolve("empty").toFile().createNewFile()
        ? dir.resolve("empty") : null, 0));
    assertThrows(java.io.IOException.class, () -> SparseFiles.dataRanges(dir.resolve("nope"), 1));
  }

  @Test
  void theAliasingMarshallerParsesWhatGrpcsOwnWrites() throws Exception {
    byte[] data = new byte[(4 << 20) - 3];
    new Random(7).nextBytes(data);
    UploadImageRequest m = UploadImageRequest.newBuilder().setData(DataExtent.newBuilder()
        .setOffset(12345).setData(ByteString.copyFrom(data)).setCrc32C(42)).build();
    var standard = ProtoUtils.marshaller(UploadImageRequest.getDefaultInstance());
    var aliasing = AliasingMarshaller.of(UploadImageRequest.getDefaultInstance());
    byte[] wire = standard.stream(m).readAllBytes();
    // ByteArrayInputStream is not KnownLength: the standard path
    assertEquals(m, aliasing.parse(new ByteArrayInputStream(wire)));
    // a KnownLength stream, as gRPC hands over: the aliasing path
    assertEquals(m, aliasing.parse(aliasing.stream(m)));
    var corrupt = new java.io.InputStream() {
      final ByteArrayInputStream in = new ByteArrayInputStream(new byte[] {0x0a, 0x7f, 1});

      @Override
      public int read() {
        return in.read();
      }
    };
    assertThrows(StatusRuntimeException.class, () -> aliasing.parse(corrupt));
  }

  @Test
  void aPoolGivesOnlyItsOwnBuffersBack() throws Exception {
    BufferPool pool = new BufferPool(2, 4096);
    ByteBuffer a = pool.take();
    a.put((byte) 1);
    pool.give(a);
    assertEquals(0, pool.take().position(), "taken buffers are cleared");
    assertThrows(IllegalArgumentException.class, () -> pool.give(ByteBuffer.allocate(4096)));
  }
}
