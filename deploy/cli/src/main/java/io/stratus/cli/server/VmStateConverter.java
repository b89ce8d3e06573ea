package io.stratus.cli.server;

import io.stratus.cli.output.States;
import io.stratus.proto.conductor.v1.VmState;
import java.util.Iterator;
import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Reads a vm_state filter by its Nova name ({@code active}) or enum name. */
public final class VmStateConverter implements ITypeConverter<VmState> {
  @Override
  public VmState convert(String value) {
    String name = value.trim().toUpperCase(Locale.ROOT);
    for (VmState s : VmState.values()) {
      if (s != VmState.UNRECOGNIZED && s != VmState.VM_STATE_UNSPECIFIED
          && (s.name().equals(name) || s.name().equals("VM_STATE_" + name))) {
        return s;
      }
    }
    throw new TypeConversionException("unknown server status '" + value + "', expected one of "
        + String.join(", ", States.vmNames()));
  }

  /** The names offered by help and shell completion. */
  public static final class Names implements Iterable<String> {
    @Override
    public Iterator<String> iterator() {
      return States.vmNames().iterator();
    }
  }
}
