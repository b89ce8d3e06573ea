package io.stratus.gateway.store.glance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Glance's JSON as strict as the RFC, with the types the Glance store reads. */
class JsonTest {

  @Test
  void readsTheTypesTheStoreExpects() {
    Map<String, Object> doc = Json.parseObject("{\"size\": 42, \"min_disk\": 0, \"ratio\": 1.5,"
        + " \"tags\": [\"a\", null, true], \"owner\": \"p\\u00e9\", \"nested\": {\"k\": 1}}");
    assertEquals(42L, doc.get("size"), "integers are Long");
    assertEquals(new BigDecimal("1.5"), doc.get("ratio"));
    assertEquals(java.util.Arrays.asList("a", null, true), doc.get("tags"));
    assertEquals("p\u00e9", doc.get("owner"));
    assertEquals(List.of("size", "min_disk", "ratio", "tags", "owner", "nested"),
        List.copyOf(doc.keySet()), "insertion-ordered");
  }

  @Test
  void refusesWhatIsNotJson() {
    for (String bad : List.of(
        "{\"a\": 1} trailing",
        "{\"a\": 1}{\"b\": 2}",
        "{'a': 1}",
        "{\"a\": 1, /* comment */ \"b\": 2}",
        "{\"a\": \"tab\there\"}",
        "{\"a\": 01}",
        "{\"a\": NaN}",
        "[1, 2,]",
        "")) {
      assertThrows(IllegalArgumentException.class, () -> Json.parse(bad), bad);
    }
    assertThrows(IllegalArgumentException.class, () -> Json.parseObject("[1]"));
  }

  @Test
  void refusesNestingDeeperThanTheLimit() {
    String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
    Json.parse(ok);
    String deep = "[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1);
    var e = assertThrows(IllegalArgumentException.class, () -> Json.parse(deep));
    assertTrue(e.getMessage().contains("depth") || e.getMessage().contains("nesting"),
        e.getMessage());
  }

  @Test
  void writesCompactAsciiThatReadsBackTheSame() {
    Map<String, Object> value = new LinkedHashMap<>();
    value.put("s", "line\u2028sep \ud800 lone, \"q\" \\ \n");
    value.put("n", 7L);
    value.put("list", List.of(1, "x"));
    String text = Json.write(value);
    assertTrue(text.chars().allMatch(c -> c < 0x80), "ASCII only: " + text);
    assertTrue(text.contains("\\u2028") && text.contains("\\uD800"), text);
    assertEquals(value.get("s"), Json.parseObject(text).get("s"));
    assertEquals("{\"a\":[true,null]}", Json.write(Map.of("a", java.util.Arrays.asList(true, null))));
  }
}
