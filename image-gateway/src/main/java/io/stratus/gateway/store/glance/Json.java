package io.stratus.gateway.store.glance;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small, strict JSON (RFC 8259) reader and writer, enough for Glance's image documents,
 * lists and JSON-patch bodies — the gateway has no JSON library and needs none for this.
 *
 * <p>Reading gives {@code Map<String, Object>} (insertion-ordered), {@code List<Object>},
 * {@link String}, {@link Long} (integers that fit) or {@link BigDecimal} (other numbers),
 * {@link Boolean} and {@code null}. Anything that is not JSON — trailing text, unescaped
 * control characters, bad escapes, nesting deeper than {@value #MAX_DEPTH} — is refused
 * with {@link IllegalArgumentException} naming the position. Writing takes the same types
 * (and any {@link Number}, {@link Iterable} or {@link Map} with string keys).
 */
final class Json {
  static final int MAX_DEPTH = 64;

  private Json() {}

  /** Parses one JSON value that must be an object. */
  @SuppressWarnings("unchecked")
  static Map<String, Object> parseObject(String text) {
    Object value = parse(text);
    if (!(value instanceof Map)) {
      throw new IllegalArgumentException("expected a JSON object, got "
          + (value == null ? "null" : value.getClass().getSimpleName()));
    }
    return (Map<String, Object>) value;
  }

  /** Parses one JSON value; nothing but whitespace may follow it. */
  static Object parse(String text) {
    Reader r = new Reader(text);
    r.skipSpace();
    Object value = r.value(0);
    r.skipSpace();
    if (r.pos != text.length()) {
      throw r.error("unexpected text after the value");
    }
    return value;
  }

  /** Writes a value as compact JSON. */
  static String write(Object value) {
    StringBuilder out = new StringBuilder();
    writeValue(out, value, 0);
    return out.toString();
  }

  private static void writeValue(StringBuilder out, Object value, int depth) {
    if (depth > MAX_DEPTH) {
      throw new IllegalArgumentException("value nested deeper than " + MAX_DEPTH);
    }
    switch (value) {
      case null -> out.append("null");
      case String s -> writeString(out, s);
      case Boolean b -> out.append(b);
      case Double d when d.isNaN() || d.isInfinite() ->
          throw new IllegalArgumentException("JSON has no " + d);
      case Float f when f.isNaN() || f.isInfinite() ->
          throw new IllegalArgumentException("JSON has no " + f);
      case BigDecimal d -> out.append(d.toString());
      case Number n -> out.append(n);
      case Map<?, ?> m -> {
        out.append('{');
        boolean first = true;
        for (Map.Entry<?, ?> e : m.entrySet()) {
          if (!(e.getKey() instanceof String key)) {
            throw new IllegalArgumentException("JSON object keys must be strings: " + e.getKey());
          }
          if (!first) {
            out.append(',');
          }
          first = false;
          writeString(out, key);
          out.append(':');
          writeValue(out, e.getValue(), depth + 1);
        }
        out.append('}');
      }
      case Iterable<?> items -> {
        out.append('[');
        boolean first = true;
        for (Object item : items) {
          if (!first) {
            out.append(',');
          }
          first = false;
          writeValue(out, item, depth + 1);
        }
        out.append(']');
      }
      default -> throw new IllegalArgumentException("cannot write a "
          + value.getClass().getName() + " as JSON");
    }
  }

  private static void writeString(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          // Control characters must be escaped; U+2028/2029 and lone surrogates too, so the
          // text is safe for any reader and valid UTF-8 when encoded.
          if (c < 0x20 || c == '\u2028' || c == '\u2029' || loneSurrogate(s, i)) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }

  private static boolean loneSurrogate(String s, int i) {
    char c = s.charAt(i);
    if (Character.isHighSurrogate(c)) {
      return i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1));
    }
    if (Character.isLowSurrogate(c)) {
      return i == 0 || !Character.isHighSurrogate(s.charAt(i - 1));
    }
    return false;
  }

  /** Recursive-descent reader over one string. */
  private static final class Reader {
    private final String s;
    private int pos;

    Reader(String s) {
      this.s = s;
    }

    IllegalArgumentException error(String problem) {
      return new IllegalArgumentException("bad JSON at offset " + pos + ": " + problem);
    }

    void skipSpace() {
      while (pos < s.length()) {
        char c = s.charAt(pos);
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
          return;
        }
        pos++;
      }
    }

    Object value(int depth) {
      if (depth > MAX_DEPTH) {
        throw error("nested deeper than " + MAX_DEPTH);
      }
      if (pos >= s.length()) {
        throw error("unexpected end of input");
      }
      char c = s.charAt(pos);
      return switch (c) {
        case '{' -> object(depth);
        case '[' -> array(depth);
        case '"' -> string();
        case 't' -> literal("true", Boolean.TRUE);
        case 'f' -> literal("false", Boolean.FALSE);
        case 'n' -> literal("null", null);
        default -> {
          if (c == '-' || (c >= '0' && c <= '9')) {
            yield number();
          }
          throw error("unexpected character '" + c + "'");
        }
      };
    }

    private Object literal(String word, Object value) {
      if (!s.startsWith(word, pos)) {
        throw error("expected " + word);
      }
      pos += word.length();
      return value;
    }

    private Map<String, Object> object(int depth) {
      pos++;  // {
      Map<String, Object> map = new LinkedHashMap<>();
      skipSpace();
      if (peek() == '}') {
        pos++;
        return map;
      }
      while (true) {
        skipSpace();
        if (peek() != '"') {
          throw error("expected a string key");
        }
        String key = string();
        skipSpace();
        expect(':');
        skipSpace();
        Object value = value(depth + 1);
        if (map.containsKey(key)) {
          throw error("duplicate key '" + key + "'");
        }
        map.put(key, value);
        skipSpace();
        char c = next();
        if (c == '}') {
          return map;
        }
        if (c != ',') {
          pos--;
          throw error("expected ',' or '}'");
        }
      }
    }

    private List<Object> array(int depth) {
      pos++;  // [
      List<Object> list = new ArrayList<>();
      skipSpace();
      if (peek() == ']') {
        pos++;
        return Collections.unmodifiableList(list);
      }
      while (true) {
        skipSpace();
        list.add(value(depth + 1));
        skipSpace();
        char c = next();
        if (c == ']') {
          return Collections.unmodifiableList(list);
        }
        if (c != ',') {
          pos--;
          throw error("expected ',' or ']'");
        }
      }
    }

    private String string() {
      pos++;  // opening quote
      StringBuilder out = new StringBuilder();
      while (true) {
        char c = next();
        if (c == '"') {
          return out.toString();
        }
        if (c < 0x20) {
          pos--;
          throw error("unescaped control character in a string");
        }
        if (c != '\\') {
          out.append(c);
          continue;
        }
        char e = next();
        switch (e) {
          case '"', '\\', '/' -> out.append(e);
          case 'b' -> out.append('\b');
          case 'f' -> out.append('\f');
          case 'n' -> out.append('\n');
          case 'r' -> out.append('\r');
          case 't' -> out.append('\t');
          case 'u' -> out.append(hex4());
          default -> {
            pos--;
            throw error("bad escape '\\" + e + "'");
          }
        }
      }
    }

    private char hex4() {
      if (pos + 4 > s.length()) {
        throw error("truncated \\u escape");
      }
      int v = 0;
      for (int i = 0; i < 4; i++) {
        int d = Character.digit(s.charAt(pos + i), 16);
        if (d < 0) {
          throw error("bad hex digit in \\u escape");
        }
        v = v * 16 + d;
      }
      pos += 4;
      return (char) v;
    }

    private Object number() {
      int start = pos;
      if (peek() == '-') {
        pos++;
      }
      if (peek() == '0') {
        pos++;
      } else if (isDigit(peek())) {
        digits();
      } else {
        throw error("expected a digit");
      }
      boolean integral = true;
      if (peek() == '.') {
        integral = false;
        pos++;
        if (!isDigit(peek())) {
          throw error("expected a digit after '.'");
        }
        digits();
      }
      if (peek() == 'e' || peek() == 'E') {
        integral = false;
        pos++;
        if (peek() == '+' || peek() == '-') {
          pos++;
        }
        if (!isDigit(peek())) {
          throw error("expected a digit in the exponent");
        }
        digits();
      }
      String text = s.substring(start, pos);
      if (integral) {
        try {
          return Long.parseLong(text);
        } catch (NumberFormatException tooLong) {
          // falls through to BigDecimal
        }
      }
      return new BigDecimal(text);
    }

    private void digits() {
      while (isDigit(peek())) {
        pos++;
      }
    }

    private static boolean isDigit(char c) {
      return c >= '0' && c <= '9';
    }

    private char peek() {
      return pos < s.length() ? s.charAt(pos) : '\0';
    }

    private char next() {
      if (pos >= s.length()) {
        throw error("unexpected end of input");
      }
      return s.charAt(pos++);
    }

    private void expect(char c) {
      if (next() != c) {
        pos--;
        throw error("expected '" + c + "'");
      }
    }
  }
}
