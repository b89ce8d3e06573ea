package io.stratus.testkit;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Stops a fixture instance exactly once: from its {@code close()}, or from a
 * JVM shutdown hook if {@code close()} is never called. Thread-safe.
 *
 * <pre>{@code
 * private final StopOnce stopOnce = new StopOnce("stratus-x-shutdown", this::stopAndDelete);
 * ...
 * stopOnce.registerHook();          // once started
 *
 * public void close() {
 *     stopOnce.close();
 * }
 * }</pre>
 */
final class StopOnce {

    private final AtomicBoolean stopped = new AtomicBoolean();
    private final Runnable stop;
    private final Thread hook;

    /**
     * Creates the state; the hook is not registered yet.
     *
     * @param hookName name of the shutdown hook thread
     * @param stop what stopping does; it runs at most once
     */
    StopOnce(String hookName, Runnable stop) {
        this.stop = stop;
        this.hook = new Thread(this::stop, hookName);
    }

    /**
     * Registers the shutdown hook.
     *
     * @throws IllegalStateException if the JVM is already shutting down
     */
    void registerHook() {
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /**
     * For {@code close()}: unless stopping began already, deregisters the
     * shutdown hook (if the JVM is already shutting down the hook is running or
     * about to, which is fine) and stops.
     *
     * @return true if this call did the stopping
     */
    boolean close() {
        if (stopped.get()) {
            return false;
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException alreadyShuttingDown) {
            // The hook is running or about to; only one of us stops.
        }
        return stop();
    }

    /**
     * Stops unless stopping began already; the hook is left registered (it
     * then does nothing).
     *
     * @return true if this call did the stopping
     */
    boolean stop() {
        if (!stopped.compareAndSet(false, true)) {
            return false;
        }
        stop.run();
        return true;
    }

    /**
     * Whether stopping began.
     *
     * @return true once {@link #close()}, {@link #stop()} or the hook ran
     */
    boolean isStopped() {
        return stopped.get();
    }
}
