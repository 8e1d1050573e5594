namespace MoeRuntime.TestSupport;

/// <summary>A fresh directory under the system temp path, deleted with its contents on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("moe-tests-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes a text file into the directory and returns the directory, for chaining.</summary>
    public TempDirectory With(string fileName, string contents)
    {
        System.IO.File.WriteAllText(File(fileName), contents);
        return this;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
