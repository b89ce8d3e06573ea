package io.stratus.gateway.upload;

import java.time.Duration;

/**
 * What one gateway allows its uploads.
 *
 * @param maxConcurrent uploads in progress at once ({@code uploads.max}); more get
 *     RESOURCE_EXHAUSTED
 * @param maxExtentBytes largest data extent ({@code extent.max.bytes})
 * @param maxVirtualBytes largest virtual size an upload may declare ({@code
 *     upload.max.virtual.bytes}); more is RESOURCE_EXHAUSTED naming the limit
 * @param idle longest wait for the uploader's next message ({@code upload.idle});
 *     then the call ends with RESOURCE_EXHAUSTED, its slot is free again and what is
 *     durable is kept for a resume
 * @param maxPerProject uploads in progress at once to the images of one project ({@code
 *     uploads.max.per.project}), so one project cannot take every slot
 */
public record UploadLimits(int maxConcurrent, int maxExtentBytes, long maxVirtualBytes,
    Duration idle, int maxPerProject) {
  /** 16 TiB: larger than any disk Nova's flavors describe, far below what overflows. */
  public static final long DEFAULT_MAX_VIRTUAL_BYTES = 16L << 40;
  public static final Duration DEFAULT_IDLE = Duration.ofMinutes(5);
}
