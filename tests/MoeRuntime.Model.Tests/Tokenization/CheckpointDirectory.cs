namespace MoeRuntime.Model.Tests.Tokenization;

/// <summary>A throwaway checkpoint directory the test writes tokenizer files into.</summary>
internal sealed class CheckpointDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("moe-tokenizer-").FullName;

    public CheckpointDirectory With(string fileName, string contents)
    {
        File.WriteAllText(System.IO.Path.Combine(Path, fileName), contents);
        return this;
    }

    public string FilePath(string fileName) => System.IO.Path.Combine(Path, fileName);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
