package io.stratus.agent.hypervisor.libvirt;

/** Escapes text for libvirt XML built by hand (element text and single-quoted attributes). */
final class XmlText {
  private XmlText() {}

  /** {@code value} with {@code & < > ' "} replaced by entities. */
  static String escape(String value) {
    StringBuilder out = new StringBuilder(value.length() + 16);
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '&' -> out.append("&amp;");
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '\'' -> out.append("&apos;");
        case '"' -> out.append("&quot;");
        default -> out.append(c);
      }
    }
    return out.toString();
  }
}
