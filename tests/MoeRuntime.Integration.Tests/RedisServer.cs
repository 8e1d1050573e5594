using System.Net.Sockets;

namespace MoeRuntime.Integration.Tests;

/// <summary>A throwaway redis-server on a loopback port: no persistence, gone with the test run.</summary>
sealed class RedisServer : IDisposable
{
    readonly ChildProcess _process;

    RedisServer(ChildProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }
    /// <summary>The password redis-server requires, if it was started with one.</summary>
    public string? Password { get; private init; }
    public string ConnectionString => Password is null ? $"127.0.0.1:{Port}" : $"127.0.0.1:{Port},password={Password}";
    public string StderrTail() => _process.StderrTail(10);

    public static async Task<RedisServer> StartAsync(string directory, string? password = null)
    {
        int port = FreePorts.Take(1)[0];
        string[] auth = password is null ? [] : ["--requirepass", password];
        var process = ChildProcess.Start("redis", directory, "redis-server",
            ["--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory, .. auth]);
        var redis = new RedisServer(process, port) { Password = password };
        await Eventually.UntilAsync($"redis-server accepts connections on port {port}", TimeSpan.FromSeconds(20),
            () => Task.FromResult(!process.HasExited && redis.Accepts()), () => process.StderrTail(10) + "\n" + process.Stdout());
        return redis;
    }

    bool Accepts()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect("127.0.0.1", Port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public void Dispose() => _process.Dispose();
}
