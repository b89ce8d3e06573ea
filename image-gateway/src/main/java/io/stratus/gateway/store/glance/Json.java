package io.stratus.gateway.store.glance;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.util.Map;

/**
 * Glance's JSON (image documents, lists, JSON-patch bodies) through Jackson, as strict as
 * RFC 8259: trailing text after the value, unescaped control characters, comments, single
 * quotes, nesting deeper than {@value #MAX_DEPTH} are refused with {@link
 * IllegalArgumentException} naming the position.
 *
 * <p>Reading gives {@code Map<String, Object>} (insertion-ordered), {@code List<Object>},
 * {@link String}, {@link Long} (integers that fit; {@link java.math.BigInteger} beyond),
 * {@link java.math.BigDecimal} (other numbers), {@link Boolean} and {@code null}. Writing
 * escapes everything outside ASCII (so U+2028/2029 and lone surrogates travel safely in any
 * encoding).
 */
final class Json {
  static final int MAX_DEPTH = 64;

  private static final JsonMapper MAPPER = JsonMapper.builder(JsonFactory.builder()
          .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build())
          .build())
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(DeserializationFeature.USE_LONG_FOR_INTS)
      .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
      .enable(JsonWriteFeature.ESCAPE_NON_ASCII)
      .build();

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
    try {
      return MAPPER.readValue(text, Object.class);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not JSON: " + e.getOriginalMessage()
          + (e.getLocation() == null ? "" : " at position " + e.getLocation().getCharOffset()), e);
    }
  }

  /** Writes a value as compact JSON. */
  static String write(Object value) {
    try {
      return MAPPER.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("cannot write as JSON: " + e.getOriginalMessage(), e);
    }
  }
}
