using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace MoeRuntime.Grains.Hosting;

/// <summary>What one configuration reload did to one options class: applied (with the changed keys) or refused (with why).</summary>
public sealed record OptionsReload(string Section, IReadOnlyList<OptionChange> Changes, string? Refused)
{
    /// <summary>The changes of <see cref="Changes"/> that take effect now.</summary>
    public IReadOnlyList<OptionChange> Live => [.. Changes.Where(c => LiveOptions.IsLive(c.Key))];

    /// <summary>The changes of <see cref="Changes"/> that take effect only when the rank restarts.</summary>
    public IReadOnlyList<OptionChange> NeedRestart => [.. Changes.Where(c => !LiveOptions.IsLive(c.Key))];
}

/// <summary>
/// An <see cref="IOptionsMonitor{TOptions}"/> that keeps the last valid binding. The first read binds and validates as
/// <see cref="OptionsMonitor{TOptions}"/> does (a mistake throws, so <c>ValidateOnStart</c> stops the silo). After that,
/// when the configuration reloads (a watched file changed), the section is bound and validated again: a binding that
/// fails validation or conversion is refused, logged, and the old values stay; one that differs is swapped in and its
/// changes (old → new, by key) are reported to <see cref="Reloaded"/> and the <see cref="OnChange"/> listeners. The framework's
/// monitor would instead throw from <see cref="CurrentValue"/> for as long as the bad edit stays in the file.
/// </summary>
public sealed partial class ReloadingOptionsMonitor<TOptions> : IOptionsMonitor<TOptions>, IDisposable where TOptions : class
{
    readonly IOptionsFactory<TOptions> _factory;
    readonly ILogger _logger;
    readonly string _section;
    readonly List<IDisposable> _subscriptions = [];
    readonly Lock _gate = new();
    event Action<TOptions, string?>? Listeners;
    volatile TOptions? _current;

    public ReloadingOptionsMonitor(IOptionsFactory<TOptions> factory, IEnumerable<IOptionsChangeTokenSource<TOptions>> sources, string section, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        _factory = factory ?? throw new ArgumentNullException(nameof(factory));
        _section = section ?? throw new ArgumentNullException(nameof(section));
        _logger = logger ?? NullLogger.Instance;
        foreach (IOptionsChangeTokenSource<TOptions> source in sources)
            if (source.Name == Options.DefaultName) _subscriptions.Add(ChangeToken.OnChange(source.GetChangeToken, () => Reload()));
    }

    /// <summary>Every reload that changed or was refused, after it was applied (or not).</summary>
    public event Action<OptionsReload>? Reloaded;

    public TOptions CurrentValue => Get(Options.DefaultName);

    /// <summary>The default binding; any other name is created afresh (this silo names none).</summary>
    public TOptions Get(string? name)
    {
        if (name is not null && name != Options.DefaultName) return _factory.Create(name);
        // A field read on the way of every request (the trace sampler); the lock only for the first binding.
        if (_current is { } current) return current;
        lock (_gate) return _current ??= _factory.Create(Options.DefaultName);
    }

    public IDisposable? OnChange(Action<TOptions, string?> listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        Listeners += listener;
        return new Unsubscribe(() => Listeners -= listener);
    }

    /// <summary>Binds and validates the section again; what it does is reported, never thrown.</summary>
    public OptionsReload? Reload()
    {
        OptionsReload reload;
        TOptions next;
        lock (_gate)
        {
            if (_current is null) return null; // never read: the next read binds the new values anyway
            try
            {
                next = _factory.Create(Options.DefaultName);
            }
            catch (Exception e) when (e is OptionsValidationException or InvalidOperationException or FormatException or ArgumentException)
            {
                string why = e is OptionsValidationException invalid ? string.Join("; ", invalid.Failures)
                    : e.InnerException is { } cause ? $"{e.Message} {cause.Message}" : e.Message;
                RefusedReload(_logger, _section, why);
                reload = new OptionsReload(_section, [], why);
                Reloaded?.Invoke(reload);
                return reload;
            }
            IReadOnlyList<OptionChange> changes = OptionsDiff.Between(_section, _current, next);
            if (changes.Count == 0) return null;
            _current = next;
            reload = new OptionsReload(_section, changes, null);
        }
        if (reload.Live.Count > 0) AppliedReload(_logger, _section, string.Join("; ", reload.Live));
        if (reload.NeedRestart.Count > 0) RestartNeeded(_logger, _section, string.Join("; ", reload.NeedRestart));
        Listeners?.Invoke(next, Options.DefaultName);
        Reloaded?.Invoke(reload);
        return reload;
    }

    public void Dispose()
    {
        foreach (IDisposable subscription in _subscriptions) subscription.Dispose();
        _subscriptions.Clear();
    }

    [LoggerMessage(1900, LogLevel.Error, "Configuration reload of {Section} refused, the old values stay: {Reason}")]
    static partial void RefusedReload(ILogger logger, string section, string reason);

    [LoggerMessage(1901, LogLevel.Information, "Configuration reload of {Section} applied live: {Changes}")]
    static partial void AppliedReload(ILogger logger, string section, string changes);

    [LoggerMessage(1902, LogLevel.Warning, "Configuration reload of {Section}: these take effect only after a restart of the rank: {Changes}")]
    static partial void RestartNeeded(ILogger logger, string section, string changes);

    sealed class Unsubscribe(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
