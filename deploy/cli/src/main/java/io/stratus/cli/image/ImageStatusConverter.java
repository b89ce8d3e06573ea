package io.stratus.cli.image;

import io.stratus.cli.output.States;
import io.stratus.proto.image.v1.ImageStatus;
import java.util.Iterator;
import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Reads an image status filter by its Glance name ({@code active}) or enum name. */
public final class ImageStatusConverter implements ITypeConverter<ImageStatus> {
  @Override
  public ImageStatus convert(String value) {
    String name = value.trim().toUpperCase(Locale.ROOT);
    for (ImageStatus s : ImageStatus.values()) {
      if (s != ImageStatus.UNRECOGNIZED && s != ImageStatus.IMAGE_STATUS_UNSPECIFIED
          && (s.name().equals(name) || s.name().equals("IMAGE_STATUS_" + name))) {
        return s;
      }
    }
    throw new TypeConversionException("unknown image status '" + value
        + "', expected one of " + String.join(", ", States.imageNames()));
  }

  /** The names offered by help and shell completion. */
  public static final class Names implements Iterable<String> {
    @Override
    public Iterator<String> iterator() {
      return States.imageNames().iterator();
    }
  }
}
