namespace MoeRuntime.Serving.Tests;

/// <summary>A fresh directory under the system temp path, deleted with its contents on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("moe-serving-tests-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
