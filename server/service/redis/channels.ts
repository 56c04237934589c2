/**
 * One Redis subscriber connection shared by every follower in a process: listeners per channel, the channel
 * subscribed while it has any and unsubscribed after the last one leaves. ioredis subscribes again by itself
 * after a reconnect.
 */
import type { Redis } from "ioredis";

export class Channels {
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  private readonly subscribed = new Map<string, Promise<unknown>>();

  constructor(private readonly sub: Redis) {
    sub.on("message", (channel: string, message: string) => {
      for (const listener of this.listeners.get(channel) ?? []) listener(message);
    });
  }

  /** Listens to `channel`; resolves once Redis confirmed the subscription. Returns the way to stop. */
  async on(channel: string, listener: (message: string) => void): Promise<() => void> {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      this.subscribed.set(channel, this.sub.subscribe(channel));
    }
    set.add(listener);
    await this.subscribed.get(channel);
    return () => {
      set.delete(listener);
      if (set.size > 0 || this.listeners.get(channel) !== set) return;
      this.listeners.delete(channel);
      this.subscribed.delete(channel);
      void this.sub.unsubscribe(channel).catch(() => undefined);
    };
  }

  close(): void {
    this.listeners.clear();
    this.sub.disconnect();
  }
}
