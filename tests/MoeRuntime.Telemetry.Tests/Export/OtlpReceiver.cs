using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace MoeRuntime.Telemetry.Tests.Export;

/// <summary>An OTLP/HTTP endpoint on 127.0.0.1 that keeps every request body it receives and answers each with an empty success.</summary>
internal sealed class OtlpReceiver : IDisposable
{
    readonly HttpListener _listener = new();
    readonly Task _loop;

    public OtlpReceiver()
    {
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            Url = $"http://127.0.0.1:{((IPEndPoint)probe.LocalEndpoint).Port}/";
        }
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public string Url { get; }

    /// <summary>(path, body) of every request, in arrival order.</summary>
    public ConcurrentQueue<(string Path, byte[] Body)> Requests { get; } = new();

    async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            Requests.Enqueue((context.Request.Url!.AbsolutePath, body.ToArray()));
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}
