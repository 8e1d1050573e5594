namespace MoeRuntime.Model.DefaultModel;

/// <summary>Where the built-in model lives unless a command is told otherwise.</summary>
public static class DefaultModelLocation
{
    /// <summary>Overrides the location, for silos and clients that share one model directory.</summary>
    public const string EnvironmentVariable = "MOE_MODEL_DIR";

    /// <summary><c>$MOE_MODEL_DIR</c>, else <c>$XDG_DATA_HOME/moeruntime/models/default</c> (<c>~/.local/share</c> when unset).</summary>
    public static string Directory
    {
        get
        {
            string? configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(configured)) return Path.GetFullPath(configured);
            string data = Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
            return Path.Combine(data, "moeruntime", "models", "default");
        }
    }
}
