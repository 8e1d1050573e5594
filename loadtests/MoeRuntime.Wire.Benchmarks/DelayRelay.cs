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
    const int ChunksInFlight = 256;

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

    /// <summary>Listens on 127.0.0.1:<paramref name="port"/> and relays every connection to <paramref name="target"/>.</summary>
    static async Task Listen(int port, int target, long delay, CancellationToken cancellationToken)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        using var line = delay > 0 ? new DelayLine<Chunk>(delay) : null;
        await Serve(listener, target, line, cancellationToken);
    }

    /// <summary>Accepts on a started listener until cancelled; each connection is relayed to 127.0.0.1:target through
    /// <paramref name="line"/> (null: no delay, every chunk written as soon as it is read).</summary>
    public static async Task Serve(TcpListener listener, int target, DelayLine<Chunk>? line, CancellationToken cancellationToken)
    {
        using var registration = cancellationToken.Register(listener.Stop);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                Socket inbound = await listener.AcceptSocketAsync(cancellationToken);
                _ = Task.Run(() => Connect(inbound, target, line, cancellationToken), cancellationToken);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    static async Task Connect(Socket inbound, int target, DelayLine<Chunk>? line, CancellationToken cancellationToken)
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
                await Task.WhenAny(Pump(inbound, outbound, line, done.Token), Pump(outbound, inbound, line, done.Token));
                done.Cancel();
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>A chunk read from one socket for another; Count 0 marks the end of the stream.</summary>
    public readonly record struct Chunk(byte[] Buffer, int Count);

    /// <summary>
    /// One direction. Without a delay, each chunk is written by the task that read it (no hand-off between threads: an
    /// earlier version queued every chunk to a second task, which cost two thread-pool hops per direction). With one,
    /// each chunk goes through the shared delay line, which hands it to this direction's writer at arrival + d, in order;
    /// at most <see cref="ChunksInFlight"/> chunks are in flight per direction.
    /// </summary>
    static async Task Pump(Socket from, Socket to, DelayLine<Chunk>? line, CancellationToken cancellationToken)
    {
        if (line is null)
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
            try
            {
                while (true)
                {
                    int count = await from.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
                    if (count == 0) break;
                    await SendAll(to, buffer.AsMemory(0, count), cancellationToken);
                }
                to.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            return;
        }

        var ready = Channel.CreateUnbounded<Chunk>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var inFlight = new SemaphoreSlim(ChunksInFlight, ChunksInFlight);
        async Task Read()
        {
            try
            {
                while (true)
                {
                    await inFlight.WaitAsync(cancellationToken);
                    byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
                    int count = await from.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
                    line.Schedule(ready.Writer, new Chunk(buffer, count));
                    if (count == 0) break;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                ready.Writer.TryComplete();
            }
        }
        async Task Write()
        {
            try
            {
                await foreach (var chunk in ready.Reader.ReadAllAsync(cancellationToken))
                {
                    if (chunk.Count == 0)
                    {
                        ArrayPool<byte>.Shared.Return(chunk.Buffer);
                        to.Shutdown(SocketShutdown.Send);
                        break;
                    }
                    await SendAll(to, chunk.Buffer.AsMemory(0, chunk.Count), cancellationToken);
                    ArrayPool<byte>.Shared.Return(chunk.Buffer);
                    inFlight.Release();
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }
        await Task.WhenAll(Read(), Write());
    }

    static async ValueTask SendAll(Socket to, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int sent = await to.SendAsync(data, SocketFlags.None, cancellationToken);
            data = data[sent..];
        }
    }
}
