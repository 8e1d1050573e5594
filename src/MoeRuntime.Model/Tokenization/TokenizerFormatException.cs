namespace MoeRuntime.Model.Tokenization;

/// <summary>A tokenizer or checkpoint file is malformed or uses a feature this runtime does not support.</summary>
public sealed class TokenizerFormatException(string filePath, string problem, Exception? innerException = null)
    : Exception($"{filePath}: {problem}", innerException)
{
    /// <summary>The file that could not be used.</summary>
    public string FilePath { get; } = filePath;
}
