/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import java.util.Collection;
import java.util.Iterator;

/**
 * Caps text that came from a client (a model name, a column name, a list of columns) before it
 * goes into a status message. gRPC sends the message in a trailer, and clients refuse trailers
 * over about 8 KiB; an uncapped 20,000-character name would turn the intended NOT_FOUND into a
 * transport error. Holds no state; safe from any thread.
 */
public final class ClientText {
  /** The most characters of one client-supplied name kept in a message. */
  public static final int MAX_NAME_CHARS = 64;

  /** The most names of a client-supplied list kept in a message. */
  public static final int MAX_LIST_ITEMS = 8;

  /**
   * The most characters of a whole status message; gRPC percent-encodes non-ASCII characters, up
   * to 9 bytes each, so this keeps even the worst case under clients' 8 KiB trailer limit.
   */
  public static final int MAX_MESSAGE_CHARS = 768;

  private ClientText() {}

  /** {@code text}, cut to {@link #MAX_NAME_CHARS} with an ellipsis and its full length. */
  public static String name(String text) {
    return cap(text, MAX_NAME_CHARS);
  }

  /** A status message cut to {@link #MAX_MESSAGE_CHARS}. */
  public static String message(String text) {
    return cap(text, MAX_MESSAGE_CHARS);
  }

  /** The first {@link #MAX_LIST_ITEMS} names, each capped, as {@code [a, b, ... and 12 more]}. */
  public static String list(Collection<String> names) {
    StringBuilder out = new StringBuilder("[");
    Iterator<String> it = names.iterator();
    for (int i = 0; it.hasNext() && i < MAX_LIST_ITEMS; i++) {
      out.append(i == 0 ? "" : ", ").append(name(it.next()));
    }
    int rest = names.size() - Math.min(names.size(), MAX_LIST_ITEMS);
    if (rest > 0) {
      out.append(", ... and ").append(rest).append(" more");
    }
    return out.append(']').toString();
  }

  private static String cap(String text, int max) {
    if (text.length() <= max) {
      return text;
    }
    int cut = max;
    if (Character.isHighSurrogate(text.charAt(cut - 1))) {
      cut--; // Never split a character in two.
    }
    return text.substring(0, cut) + "... (" + text.length() + " characters)";
  }
}
