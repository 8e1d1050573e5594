using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using MoeRuntime.LoadTests;

namespace MoeRuntime.Wire.Benchmarks;

/// <summary>
/// Measures the relay and checks it: an echo server behind a relay (both in this process, loopback, ephemeral ports)
/// and a client that sends --messages ping-pong messages of --bytes each, then streams --stream-mib MiB through it. Per
/// delay it prints the round trip (min, p50, p90, p99) against the 2 x d it must add, and the stream's rate; it fails
/// (exit 1) when an echoed byte differs or is missing, or when a round trip is shorter than 2 x d.
/// </summary>
static class RelayProbe
{
    public static async Task<int> RunAsync(string[] args)
    {
        var a = new Arguments(args);
        double[] delays = a.Values("--delay-ms").Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d is >= 0 and <= 1000
            ? d : throw new ArgumentException($"--delay-ms must be a number from 0 to 1000, was '{v}'")).ToArray();
        if (delays.Length == 0) delays = [0, 0.1, 0.5, 2];
        int messages = a.Int("--messages", 500, 1, 1_000_000);
        int bytes = a.Int("--bytes", 100, 1, 16 << 20);
        int streamMiB = a.Int("--stream-mib", 16, 0, 4096);
        bool ok = true;
        var table = new MarkdownTable("one-way d (ms)", "2 x d", "RTT min", "RTT p50", "RTT p90", "RTT p99", "stream MiB/s", "bytes intact, RTT >= 2d");
        foreach (double delayMs in delays)
        {
            var (rtts, streamSeconds, failure) = await ProbeAsync(delayMs, messages, bytes, streamMiB);
            Array.Sort(rtts);
            double floor = 2 * delayMs;
            if (failure is null && rtts[0] < floor) failure = $"a round trip took {rtts[0]:F3} ms, under 2 x d = {floor:F3} ms";
            if (failure is not null)
            {
                Console.Error.WriteLine($"relay-probe d = {delayMs} ms: {failure}");
                ok = false;
            }
            double P(double q) => rtts[Math.Min(rtts.Length - 1, (int)(q * rtts.Length))];
            table.Add(delayMs.ToString("0.###", CultureInfo.InvariantCulture), F(floor), F(rtts[0]), F(P(0.5)), F(P(0.9)), F(P(0.99)),
                streamMiB == 0 ? "-" : (streamMiB / streamSeconds).ToString("F0", CultureInfo.InvariantCulture), failure is null ? "yes" : "NO");
        }
        Console.WriteLine($"{messages} ping-pong messages of {bytes} bytes and a {streamMiB} MiB stream through the relay per delay (loopback, round trips in ms)");
        Console.WriteLine();
        Console.Write(table.Render());
        return ok ? 0 : 1;
    }

    static string F(double ms) => ms.ToString("F3", CultureInfo.InvariantCulture);

    static async Task<(double[] Rtts, double StreamSeconds, string? Failure)> ProbeAsync(double delayMs, int messages, int bytes, int streamMiB)
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));  // bounded whatever happens
        var echo = new TcpListener(IPAddress.Loopback, 0);
        echo.Start();
        var relay = new TcpListener(IPAddress.Loopback, 0);
        relay.Start();
        int echoPort = ((IPEndPoint)echo.LocalEndpoint).Port, relayPort = ((IPEndPoint)relay.LocalEndpoint).Port;
        long delay = (long)(delayMs * Stopwatch.Frequency / 1000);
        using var line = delay > 0 ? new DelayLine<DelayRelay.Chunk>(delay) : null;
        Task serving = DelayRelay.Serve(relay, echoPort, line, stop.Token);
        Task echoing = Echo(echo, stop.Token);
        try
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, relayPort), stop.Token);
            var rtts = new double[messages];
            byte[] send = new byte[bytes], receive = new byte[bytes];
            for (int i = 0; i < messages; i++)
            {
                Fill(send, i);
                long t0 = Stopwatch.GetTimestamp();
                await client.SendAsync(send, SocketFlags.None, stop.Token);
                if (!await ReceiveExactly(client, receive, stop.Token)) return (rtts, 0, $"the echo of message {i} ended early");
                rtts[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                if (!send.AsSpan().SequenceEqual(receive)) return (rtts, 0, $"the echo of message {i} differs from what was sent");
            }
            if (streamMiB == 0) return (rtts, 0, null);
            long total = (long)streamMiB << 20;
            long t1 = Stopwatch.GetTimestamp();
            Task<string?> check = CheckStream(client, total, stop.Token);
            byte[] block = new byte[64 * 1024];
            for (long sent = 0; sent < total; sent += block.Length)
            {
                for (int j = 0; j < block.Length; j++) block[j] = Pattern(sent + j);
                await client.SendAsync(block, SocketFlags.None, stop.Token);
            }
            string? failure = await check;
            return (rtts, Stopwatch.GetElapsedTime(t1).TotalSeconds, failure);
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(serving, echoing);
        }
    }

    static void Fill(byte[] buffer, int message)
    {
        for (int j = 0; j < buffer.Length; j++) buffer[j] = (byte)(message * 31 + j);
    }

    static byte Pattern(long offset) => (byte)(offset * 7 + (offset >> 16));

    static async Task<bool> ReceiveExactly(Socket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        for (int got = 0; got < buffer.Length;)
        {
            int count = await socket.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, cancellationToken);
            if (count == 0) return false;
            got += count;
        }
        return true;
    }

    static async Task<string?> CheckStream(Socket socket, long total, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[256 * 1024];
        for (long got = 0; got < total;)
        {
            int count = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (count == 0) return $"the stream ended after {got} of {total} bytes";
            for (int j = 0; j < count; j++)
                if (buffer[j] != Pattern(got + j)) return $"stream byte {got + j} differs (lost or reordered data)";
            got += count;
        }
        return null;
    }

    static async Task Echo(TcpListener listener, CancellationToken cancellationToken)
    {
        using var registration = cancellationToken.Register(listener.Stop);
        try
        {
            using Socket socket = await listener.AcceptSocketAsync(cancellationToken);
            socket.NoDelay = true;
            byte[] buffer = new byte[256 * 1024];
            while (true)
            {
                int count = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
                if (count == 0) break;
                await socket.SendAsync(buffer.AsMemory(0, count), SocketFlags.None, cancellationToken);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }
}
