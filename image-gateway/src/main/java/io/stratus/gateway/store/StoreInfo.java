package io.stratus.gateway.store;

/**
 * What kind of store this is; {@code cephFsid}/{@code cephPool} are set for rbd so an
 * agent can tell whether the RBD direct path applies.
 */
public record StoreInfo(String backend, String cephFsid, String cephPool) {
  public static StoreInfo of(String backend) {
    return new StoreInfo(backend, "", "");
  }
}
