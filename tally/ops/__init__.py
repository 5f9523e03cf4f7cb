"""The live operations page: `GET /ops` (plain HTML and JavaScript served from the
package, nothing from a CDN) fed by Server-Sent Events at `GET /ops/events`."""
