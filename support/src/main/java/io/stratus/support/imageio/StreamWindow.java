package io.stratus.support.imageio;

/**
 * The HTTP/2 flow-control window of channels that carry image bytes (agent → gateway, CLI →
 * gateway, the gateway's server). gRPC's default, 1 MiB, is smaller than one 4 MiB extent:
 * the sender then stalls on every extent until the receiver has consumed the previous one,
 * so reading, sending and storing never overlap. 16 MiB keeps about three extents in
 * flight; gRPC's manual flow control (isReady / request(1)) still bounds what the
 * applications buffer.
 */
public final class StreamWindow {
  /** Bytes. */
  public static final int BYTES = 16 << 20;

  private StreamWindow() {}
}
