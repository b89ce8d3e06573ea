package io.stratus.gateway.domain;

import java.util.Map;

/** What a client asks for when it creates an image (validated by the gateway core). */
public record NewImage(
    String id,
    String name,
    String diskFormat,
    String containerFormat,
    String owner,
    String visibility,
    int minDisk,
    int minRam,
    Map<String, String> properties) {

  public NewImage {
    properties = Map.copyOf(properties);
  }
}
