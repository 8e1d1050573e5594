using System.Net;
using System.Net.Sockets;

namespace MoeRuntime.Integration.Tests;

/// <summary>Loopback ports nobody listens on right now (the OS picks them, so parallel runs do not collide).</summary>
static class FreePorts
{
    public static int[] Take(int count)
    {
        // Hold every listener until all are chosen so the OS cannot hand out the same port twice.
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToArray();
        try
        {
            foreach (TcpListener listener in listeners) listener.Start();
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (TcpListener listener in listeners) listener.Stop();
        }
    }
}
