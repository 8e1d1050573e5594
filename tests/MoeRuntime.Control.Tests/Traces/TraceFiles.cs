using System.Text;
using MoeRuntime.Traces;

namespace MoeRuntime.Control.Tests.Traces;

/// <summary>Trace files in a temporary directory that goes away with the test.</summary>
sealed class TraceFiles : IDisposable
{
    public string Directory { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "moe-trace-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public TraceFiles() => System.IO.Directory.CreateDirectory(Directory);

    public string Path(string name) => System.IO.Path.Combine(Directory, name);

    public string Write(string name, string text)
    {
        string path = Path(name);
        File.WriteAllText(path, text, new UTF8Encoding(false));
        return path;
    }

    public static RoutingTraceHeader Header(int layers = 2, int experts = 4, int topK = 2, long? expertBytes = 1000) =>
        new() { Model = "test", Layers = layers, Experts = experts, TopK = topK, ExpertBytes = expertBytes };

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
