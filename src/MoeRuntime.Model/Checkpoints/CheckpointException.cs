namespace MoeRuntime.Model.Checkpoints;

/// <summary>
/// A checkpoint could not be read: missing, truncated or malformed files, or a tensor that is absent or not the
/// shape the model expects. The message names the file and, when known, the tensor.
/// </summary>
public sealed class CheckpointException : Exception
{
    /// <summary>Creates the exception with a message that already names the file and tensor.</summary>
    public CheckpointException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message that already names the file and tensor, and its cause.</summary>
    public CheckpointException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a problem in <paramref name="file"/>, optionally with one tensor.</summary>
    public CheckpointException(string file, string? tensor, string problem, Exception? innerException = null)
        : base(Describe(file, tensor, problem), innerException)
    {
        File = file;
        Tensor = tensor;
    }

    /// <summary>The file (shard, index or directory) the problem was found in, when known.</summary>
    public string? File { get; }

    /// <summary>The tensor the problem concerns, when known.</summary>
    public string? Tensor { get; }

    private static string Describe(string file, string? tensor, string problem) =>
        tensor is null ? $"{file}: {problem}" : $"{file}: tensor '{tensor}' {problem}";
}
