using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace MoeRuntime.Wire.Benchmarks;

/// <summary>
/// A loopback TCP relay that adds a one-way delay: each route listens on 127.0.0.1:LISTEN and forwards every accepted
/// connection to 127.0.0.1:TARGET; in both directions each chunk read is stamped on arrival and written at arrival + d,
/// in order, so the stream is delayed by d without losing throughput (chunks in flight are bounded). Runs for --seconds
/// (default one hour) or until stopped.
/// </summary>
static class DelayRelay
{
    const int ChunkBytes = 64 * 1024;
    const int ChunksInFlight = 1024;

    public static async Task<int> RunAsync(string[] args)
    {
        var a = new Arguments(args);
        double delayMs = a.Double("--delay-ms", 0, 0, 1000);
        int seconds = a.Int("--seconds", 3600, 1, 24 * 3600);
        var routes = a.Values("--route").Select(ParseRoute).ToArray();
        if (routes.Length == 0) throw new ArgumentException("--route LISTEN_PORT:TARGET_PORT is required (one per forwarded port)");
        long delay = (long)(delayMs * Stopwatch.Frequency / 1000);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
        var listeners = routes.Select(r => Listen(r.Listen, r.Target, delay, stop.Token)).ToArray();
        Console.Error.WriteLine($"moe-wire relay: {string.Join(", ", routes.Select(r => $"{r.Listen} -> {r.Target}"))}, one-way delay {delayMs} ms");
        try
        {
            await Task.WhenAll(listeners);
        }
        catch (OperationCanceledException)
        {
        }
        return 0;
    }

    static (int Listen, int Target) ParseRoute(string text)
    {
        string[] parts = text.Split(':');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int listen) || !int.TryParse(parts[1], out int target)
            || listen is < 1 or > 65535 || target is < 1 or > 65535 || listen == target)
            throw new ArgumentException($"--route must be LISTEN_PORT:TARGET_PORT, two different ports, was '{text}'");
        return (listen, target);
    }

    static async Task Listen(int port, int target, long delay, CancellationToken cancellationToken)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        using var registration = cancellationToken.Register(listener.Stop);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                Socket inbound = await listener.AcceptSocketAsync(cancellationToken);
                _ = Task.Run(() => Connect(inbound, target, delay, cancellationToken), cancellationToken);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    static async Task Connect(Socket inbound, int target, long delay, CancellationToken cancellationToken)
    {
        using (inbound)
        using (var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            inbound.NoDelay = outbound.NoDelay = true;
            try
            {
                await outbound.ConnectAsync(new IPEndPoint(IPAddress.Loopback, target), cancellationToken);
                using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                // When one direction ends, the other is torn down with it.
                await Task.WhenAny(Pump(inbound, outbound, delay, done.Token), Pump(outbound, inbound, delay, done.Token));
                done.Cancel();
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>Reads chunks as they arrive and writes each at its arrival + delay, in order.</summary>
    static async Task Pump(Socket from, Socket to, long delay, CancellationToken cancellationToken)
    {
        var chunks = Channel.CreateBounded<(long Due, byte[] Buffer, int Count)>(new BoundedChannelOptions(ChunksInFlight) { SingleReader = true, SingleWriter = true });
        async Task Read()
        {
            try
            {
                while (true)
                {
                    byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
                    int count = await from.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
                    if (count == 0)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        break;
                    }
                    await chunks.Writer.WriteAsync((Stopwatch.GetTimestamp() + delay, buffer, count), cancellationToken);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
            finally
            {
                chunks.Writer.TryComplete();
            }
        }
        async Task Write()
        {
            try
            {
                await foreach (var (due, buffer, count) in chunks.Reader.ReadAllAsync(cancellationToken))
                {
                    await WaitUntil(due, cancellationToken);
                    await to.SendAsync(buffer.AsMemory(0, count), SocketFlags.None, cancellationToken);
                    ArrayPool<byte>.Shared.Return(buffer);
                }
                to.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }
        await Task.WhenAll(Read(), Write());
    }

    /// <summary>
    /// Sleeps while more than 1.5 ms remain (timers are millisecond-grained), then yields the core until the deadline, so
    /// sub-millisecond delays are kept without holding a core when another thread wants it.
    /// </summary>
    static async Task WaitUntil(long due, CancellationToken cancellationToken)
    {
        long remaining = due - Stopwatch.GetTimestamp();
        long sleepable = remaining - Stopwatch.Frequency * 3 / 2000;
        if (sleepable > 0) await Task.Delay(TimeSpan.FromSeconds((double)sleepable / Stopwatch.Frequency), cancellationToken);
        for (int spins = 0; Stopwatch.GetTimestamp() < due; spins++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Thread.Yield();
            if (spins > 1_000_000) break;  // bounded: a clock that stalls never holds the relay
        }
    }
}
