using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Model;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Chat;
using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Tokenization;
using MoeRuntime.Serving.Tiers;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// What one rank loads once at start: the model's config and tokenizer, the dense part of the model
/// for its router, and the tier store that owns the tensors of the experts this rank hosts.
/// </summary>
public sealed class ModelHost : IDisposable
{
    public ModelHost(IOptions<MoeSiloOptions> options, ILoggerFactory loggers)
    {
        MoeSiloOptions o = options.Value;
        ILogger logger = loggers.CreateLogger<ModelHost>();
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        ModelName = o.ModelName;
        Revision = o.ModelRevision;
        Rank = o.Rank;
        // libtorch's pools are sized before the first tensor is made (the built-in model's, the dense model's).
        ComputeThreads = Hosting.ComputeThreads.Apply(o.Compute, o.Rank, logger);
        Directory = string.IsNullOrWhiteSpace(o.ModelPath) ? DefaultModelLocation.Directory : Path.GetFullPath(o.ModelPath);
        if (string.IsNullOrWhiteSpace(o.ModelPath) && !DefaultModelWriter.Exists(Directory))
        {
            logger.LogInformation("Writing the built-in model to {Directory}", Directory);
            DefaultModelWriter.Write(Directory);
        }
        Device = ComputeDevices.Resolve(o.Device, logger);
        Config = ModelConfigJson.Load(Directory);
        Tokenizer = TokenizerLoader.Load(Directory, Config, o.Limits.TokenizerRegexTimeout);
        // Refused here, at load, when the checkpoint's template uses a construct the interpreter does not support.
        // A checkpoint of the built-in model (its byte-level tokenizer, no template of its own), embedded or written
        // by `moe model init`, gets the built-in model's template.
        ChatTemplate checkpointTemplate = ChatTemplate.ForCheckpoint(Directory);
        ChatTemplate = ReferenceEquals(checkpointTemplate, ChatTemplate.Plain) && Tokenizer is ByteLevelTokenizer ? ChatTemplate.BuiltInModel : checkpointTemplate;
        DenseModel = ModelLoader.Load(Directory, Device, withExperts: false);
        long storeStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        Checkpoint = ExpertCheckpoint.Open(Directory, ModelName);
        try
        {
            CheckManifest(o, logger);
        }
        catch
        {
            DenseModel.Dispose();
            Checkpoint.Dispose();
            throw;
        }
        Store = new ExpertTierStore(Checkpoint, new TierBudgets(o.HotBudgetBytes, o.WarmBudgetBytes), Device, loggers.CreateLogger<ExpertTierStore>());
        DefaultTier = o.DefaultTier;
        StoreSetupDuration = System.Diagnostics.Stopwatch.GetElapsedTime(storeStarted);
        LoadDuration = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        logger.LogInformation("Rank {Rank} serves model {Model} from {Directory} on {Device}: {Layers} layers x {Experts} experts",
            Rank, ModelName, Directory, Device.type, Config.LayerCount, Config.ExpertCount);
    }

    public string ModelName { get; }
    /// <summary>The operator's name for the checkpoint's revision (<see cref="MoeSiloOptions.ModelRevision"/>); may be blank.</summary>
    public string Revision { get; }
    public int Rank { get; }
    /// <summary>The libtorch threads this rank computes with (<see cref="MoeSiloOptions.Compute"/>), as libtorch reported them at load.</summary>
    public ComputeThreadCounts ComputeThreads { get; }
    public string Directory { get; }
    public Device Device { get; }
    public ModelConfig Config { get; }
    public ITextTokenizer Tokenizer { get; }
    /// <summary>
    /// How chat messages become a prompt: the checkpoint's <c>chat_template</c>, the built-in model's own template for a
    /// checkpoint with the built-in byte-level tokenizer and no template, or <see cref="ChatTemplate.Plain"/> for any
    /// other checkpoint without one.
    /// </summary>
    public ChatTemplate ChatTemplate { get; }
    /// <summary>Embeddings, attention, gates, norms and head; the experts live in expert grains.</summary>
    public MoeModel DenseModel { get; }
    /// <summary>How long loading the config, tokenizer, dense model and tier store took.</summary>
    public TimeSpan LoadDuration { get; }
    /// <summary>Of <see cref="LoadDuration"/>, how long opening the expert checkpoint and setting up the tier store took.</summary>
    public TimeSpan StoreSetupDuration { get; }
    public ExpertCheckpoint Checkpoint { get; }
    public ExpertTierStore Store { get; }
    /// <summary>Tier of experts the rank's TierSet does not name.</summary>
    public Tier DefaultTier { get; }

    /// <summary>
    /// SHA-256 of the checkpoint's manifest (<see cref="CheckpointManifest.Digest"/>), logged at start: two ranks that
    /// log different digests serve different reference weights. Null when the checkpoint has none.
    /// </summary>
    public string? ManifestDigest => Checkpoint.Manifest?.Digest;

    /// <summary>
    /// Checks the dense weights and the small files against the manifest, or warns (refuses, with
    /// <see cref="MoeSiloOptions.RequireManifest"/>) when there is none. Each expert is checked when it registers.
    /// </summary>
    void CheckManifest(MoeSiloOptions o, ILogger logger)
    {
        if (Checkpoint.Manifest is not { } manifest)
        {
            if (o.RequireManifest)
                throw new CheckpointException(Path.Combine(Directory, CheckpointManifest.FileName), null,
                    "is missing and Moe:RequireManifest is set; write it with `moe model manifest <dir>` from a copy known to be good");
            logger.LogWarning("Checkpoint {Directory} has no {Manifest}: experts are checked only against the bytes read when they register, so a file corrupt before start-up is served; write one with `moe model manifest`",
                Directory, CheckpointManifest.FileName);
            return;
        }
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        IReadOnlyList<string> wrong = Checkpoint.VerifyDense();
        if (wrong.Count > 0)
            throw new CheckpointException(Path.Combine(Directory, CheckpointManifest.FileName), null,
                $"does not match the checkpoint: {string.Join("; ", wrong)} differ from their SHA-256; restore them or re-import the model");
        logger.LogInformation("Rank {Rank} checkpoint manifest sha256 {ManifestDigest}: {Tensors} tensors, {Files} files; dense weights verified in {Elapsed} ms",
            Rank, manifest.Digest, manifest.Tensors.Count, manifest.Files.Count, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>Throws <see cref="MoeRequestException"/> unless this rank serves <paramref name="model"/>.</summary>
    public void EnsureServes(string model)
    {
        if (model != ModelName)
            throw new MoeRequestException(MoeErrorCode.UnknownModel, $"model '{model}' is not served here; this cluster serves '{ModelName}'");
    }

    public void Dispose()
    {
        DenseModel.Dispose();
        Store.Dispose();
        Checkpoint.Dispose();
    }
}
