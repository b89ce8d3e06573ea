/**
 * The compute-agent daemon: one per host, drives libvirt and serves the {@code agent.v1}
 * streaming task calls (snapshot, power on/off, hard reboot, spawn, destroy). Implemented
 * by the compute-agent issue; this module fixes its place in the build.
 */
package io.stratus.agent;
