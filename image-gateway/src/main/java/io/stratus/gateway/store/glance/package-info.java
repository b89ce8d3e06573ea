/**
 * The Glance image store: OpenStack Glance's v2 HTTP API keeps the records and the bytes.
 * {@link io.stratus.gateway.store.glance.GlanceBackend} is the entry point; the other
 * classes each do one thing — HTTP access ({@code GlanceClient}), error mapping
 * ({@code GlanceErrors}), record mapping ({@code GlanceRecords}), JSON ({@code Json}), the
 * streaming upload ({@code GlanceUpload} over a bounded {@code BodyPipe}) and the download
 * ({@code GlanceExtentSource}).
 */
package io.stratus.gateway.store.glance;
