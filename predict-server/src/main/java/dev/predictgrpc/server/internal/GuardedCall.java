/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One call under a {@link CallGuard}: the {@link ServerCall} the service sees, and (through {@link
 * #listen}) the listener gRPC sees. It tracks whether the call is waiting for the client and since
 * when, and lets the {@link CallSweeper} close it.
 *
 * <p>Threading. gRPC runs the listener's callbacks one at a time on the call's serializing
 * executor, the service may call this {@link ServerCall} from those callbacks or other threads
 * (gRPC requires it not to call the outbound methods concurrently), and the sweeper closes expired
 * calls from its own thread. Two locks keep this safe:
 *
 * <ul>
 *   <li>{@code sendLock} serializes {@code sendHeaders}, {@code sendMessage}, {@code close} and the
 *       compression setters with the guard's own close, which gRPC's {@code ServerCall} (not
 *       thread-safe) could not otherwise tolerate. Once the guard has closed the call, those
 *       methods do nothing, so a service finishing its work late cannot fail on a closed call.
 *   <li>{@code stateLock} guards the wait state. It is a leaf: nothing is called while holding it,
 *       so listener callbacks never wait on a send in progress. The guard decides to close under
 *       both locks ({@code sendLock} first), and a message is either counted before that decision
 *       (and the call is then no longer waiting) or dropped after it, never delivered to a call the
 *       guard has closed.
 * </ul>
 *
 * <p>After the guard closed the call, gRPC reports it complete (it sent the status); the service's
 * listener gets {@code onCancel()} instead, which is what handlers release resources on.
 */
final class GuardedCall<ReqT, RespT>
    extends ForwardingServerCall.SimpleForwardingServerCall<ReqT, RespT> {
  private static final Logger logger = Logger.getLogger(GuardedCall.class.getName());

  /** A {@link #waitingSince} meaning "not waiting": no nanoTime reading is this far out. */
  static final long NOT_WAITING = Long.MIN_VALUE;

  private final CallGuard guard;
  private final Object sendLock = new Object();
  private final Object stateLock = new Object();

  /** The service or the guard has closed the call. Guarded by sendLock. */
  private boolean closed;

  /** Messages requested and not yet delivered. Guarded by stateLock. */
  private long requested;

  /** Guarded by stateLock. */
  private boolean halfClosed;

  /**
   * The service is handling a message: the wait for the next one has not begun. Guarded by
   * stateLock.
   */
  private boolean inOnMessage;

  /** Written under stateLock; read by the sweeper without it. */
  private volatile boolean firstMessageSeen;

  /** The guard closed the call. Written under both locks. */
  private volatile boolean expired;

  /** When the current wait for the client began, or {@link #NOT_WAITING}. */
  private volatile long waitingSince;

  GuardedCall(ServerCall<ReqT, RespT> call, CallGuard guard, long startedAt) {
    super(call);
    this.guard = guard;
    // Until its first message, a call waits from its start, whatever the service requested.
    this.waitingSince = startedAt;
  }

  /** Wraps the service's listener: what gRPC should deliver this call's events to. */
  ServerCall.Listener<ReqT> listen(ServerCall.Listener<ReqT> listener) {
    return new Listener(listener);
  }

  /**
   * Closes the call if the client has kept it waiting past its limit at {@code now}. Runs on the
   * sweeper's thread.
   */
  void check(long now) {
    long since = waitingSince;
    if (since == NOT_WAITING) {
      return;
    }
    // An unlocked first look that is cheap for the many calls not due; expire() decides.
    long limit = firstMessageSeen ? guard.streamIdleNanos() : guard.firstMessageNanos();
    if (now - since >= limit) {
      expire(now);
    }
  }

  private void expire(long now) {
    synchronized (sendLock) {
      if (closed) {
        return; // The service closed the call first; it is not ours to close.
      }
      Status status;
      synchronized (stateLock) {
        long since = waitingSince;
        boolean first = !firstMessageSeen;
        long limit = first ? guard.firstMessageNanos() : guard.streamIdleNanos();
        if (since == NOT_WAITING || now - since < limit) {
          return; // A message or half-close arrived meanwhile.
        }
        status = first ? guard.firstMessageExpired() : guard.streamIdleExpired();
        expired = true;
        waitingSince = NOT_WAITING;
      }
      closed = true;
      guard.sweeper().remove(this);
      if (logger.isLoggable(Level.FINE)) {
        logger.fine(
            "closing "
                + getMethodDescriptor().getFullMethodName()
                + ": "
                + status.getDescription());
      }
      super.close(status, new Metadata());
    }
  }

  @Override
  public void request(int numMessages) {
    synchronized (stateLock) {
      requested += numMessages;
      updateWaiting();
    }
    super.request(numMessages);
  }

  @Override
  public void sendHeaders(Metadata headers) {
    synchronized (sendLock) {
      if (!expired) {
        super.sendHeaders(headers);
      }
    }
  }

  @Override
  public void sendMessage(RespT message) {
    synchronized (sendLock) {
      if (!expired) {
        super.sendMessage(message);
      }
    }
  }

  @Override
  public void close(Status status, Metadata trailers) {
    try {
      synchronized (sendLock) {
        if (expired) {
          return;
        }
        closed = true;
        super.close(status, trailers);
      }
    } finally {
      guard.sweeper().remove(this);
    }
  }

  @Override
  public void setMessageCompression(boolean enabled) {
    synchronized (sendLock) {
      if (!expired) {
        super.setMessageCompression(enabled);
      }
    }
  }

  @Override
  public void setCompression(String compressor) {
    synchronized (sendLock) {
      if (!expired) {
        super.setCompression(compressor);
      }
    }
  }

  /** Recomputes {@link #waitingSince} after a change; the caller holds stateLock. */
  private void updateWaiting() {
    boolean waiting =
        !expired && !halfClosed && (!firstMessageSeen || (requested > 0 && !inOnMessage));
    if (!waiting) {
      waitingSince = NOT_WAITING;
    } else if (waitingSince == NOT_WAITING) {
      waitingSince = guard.now();
    }
  }

  /** gRPC's view of the service's listener. Its callbacks are serialized by gRPC. */
  private final class Listener
      extends ForwardingServerCallListener.SimpleForwardingServerCallListener<ReqT> {
    Listener(ServerCall.Listener<ReqT> delegate) {
      super(delegate);
    }

    @Override
    public void onMessage(ReqT message) {
      boolean deliver;
      synchronized (stateLock) {
        deliver = !expired;
        if (deliver) {
          if (requested > 0) {
            requested--;
          }
          firstMessageSeen = true;
          inOnMessage = true;
          waitingSince = NOT_WAITING;
        }
      }
      if (!deliver) {
        // Parsed before gRPC learnt the call was closed; the service will never see it.
        guard.discard(message);
        return;
      }
      try {
        super.onMessage(message);
      } finally {
        synchronized (stateLock) {
          inOnMessage = false;
          updateWaiting();
        }
      }
    }

    @Override
    public void onHalfClose() {
      synchronized (stateLock) {
        if (expired) {
          return;
        }
        halfClosed = true;
        waitingSince = NOT_WAITING;
      }
      super.onHalfClose();
    }

    @Override
    public void onReady() {
      if (!expired) {
        super.onReady();
      }
    }

    @Override
    public void onCancel() {
      guard.sweeper().remove(GuardedCall.this);
      super.onCancel();
    }

    @Override
    public void onComplete() {
      guard.sweeper().remove(GuardedCall.this);
      if (expired) {
        // The status went out, so gRPC calls it complete; for the service the call was cut short.
        super.onCancel();
      } else {
        super.onComplete();
      }
    }
  }

  @Override
  public String toString() {
    return "GuardedCall{" + getMethodDescriptor().getFullMethodName() + "}";
  }
}
