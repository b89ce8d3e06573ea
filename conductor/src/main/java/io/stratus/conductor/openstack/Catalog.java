package io.stratus.conductor.openstack;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stratus.support.rest.RestExchange;

/**
 * The service catalog a Keystone token carries: {@code identity} (where the client
 * authenticated), {@code compute} (a conductor's Nova API, {@code …/v2.1}) and, when
 * configured, {@code image} (an image-gateway's Glance API, without {@code /v2}: the
 * {@code glance} client adds it). Only public endpoints, in one region.
 */
record Catalog(String region, String computeUrl, String imageUrl) {

  /** The catalog for a client that reached the identity API at {@code identityBase}. */
  ArrayNode json(String identityBase) {
    ArrayNode catalog = RestExchange.JSON.createArrayNode();
    service(catalog, "identity", "keystone", identityBase + "/v3");
    if (computeUrl != null) {
      service(catalog, "compute", "nova", computeUrl);
    }
    if (imageUrl != null) {
      service(catalog, "image", "glance", imageUrl);
    }
    return catalog;
  }

  private void service(ArrayNode catalog, String type, String name, String url) {
    ObjectNode s = catalog.addObject();
    s.put("id", type).put("type", type).put("name", name);
    ObjectNode e = s.putArray("endpoints").addObject();
    e.put("id", type + "-public").put("interface", "public").put("region", region)
        .put("region_id", region).put("url", url);
  }
}
