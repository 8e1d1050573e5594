using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Model;

/// <summary>
/// A Mixtral / Qwen2-MoE / OLMoE / Qwen3-MoE decoder held in memory: embeddings, layers, final norm and LM head.
/// One forward pass takes any mix of prefilling and decoding sequences; everything but attention
/// runs on the flattened batch at once.
/// </summary>
public sealed class MoeModel : IDisposable
{
    readonly Tensor _embedding;
    readonly Tensor _finalNorm;
    readonly Tensor _lmHead;

    public MoeModel(ModelConfig config, Tensor embedding, IReadOnlyList<DecoderLayer> layers, Tensor finalNorm, Tensor lmHead, Device device)
    {
        Config = config;
        Device = device;
        _embedding = embedding.DetachFromDisposeScope();
        _finalNorm = finalNorm.DetachFromDisposeScope();
        _lmHead = ReferenceEquals(lmHead, embedding) ? _embedding : lmHead.DetachFromDisposeScope();
        Layers = layers;
        Rope = new RotaryEmbedding(config.HeadDimension, config.RopeTheta, config.MaxPositionEmbeddings, config.RopeScaling, device);
    }

    public ModelConfig Config { get; }
    public Device Device { get; }
    public IReadOnlyList<DecoderLayer> Layers { get; }
    public RotaryEmbedding Rope { get; }

    /// <summary>Steps <see cref="ForwardAsync"/> ran split into micro-batches (see <see cref="OverlapOptions"/>) since the model was built.</summary>
    public long SplitSteps => Interlocked.Read(ref _splitSteps);
    long _splitSteps;

    /// <param name="positions">The most positions the sequence will cache (its buffers never grow past it); the model's maximum when null.</param>
    public KvCache CreateCache(int? positions = null) =>
        new(Config.LayerCount, Config.KeyValueHeadCount, Config.HeadDimension, Math.Min(positions ?? Config.MaxSequenceLength, Config.MaxSequenceLength), Device);

    /// <summary>
    /// Runs one step for a batch of sequences and advances their caches. Returns float32 logits:
    /// [sequences, vocab] for each sequence's last new token, or [all new tokens, vocab] when
    /// <paramref name="allPositions"/> is set. <paramref name="observe"/> sees every layer's routing.
    /// </summary>
    public Tensor Forward(IReadOnlyList<SequenceStep> batch, bool allPositions = false, Action<int, RoutingPlan>? observe = null)
    {
        if (batch.Count == 0) throw new ArgumentException("a forward pass needs at least one sequence", nameof(batch));
        using var scope = NewDisposeScope();
        var (tokens, positions, slices) = Flatten(batch);
        Tensor hidden = Embed(tokens);
        foreach (DecoderLayer layer in Layers)
            hidden = layer.Forward(hidden, positions, slices, Rope, observe);
        foreach (SequenceStep step in batch) step.Cache.Advance(step.Tokens.Length);
        if (!allPositions)
        {
            long[] last = slices.Select(s => (long)(s.Start + s.Count - 1)).ToArray();
            hidden = hidden.index_select(0, tensor(last, device: Device));
        }
        return Logits(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same step as <see cref="Forward"/>, with each layer's experts run by <paramref name="dispatcher"/>
    /// (the router's path: experts live in other grains). Returns float32 logits [sequences, vocab] on the CPU.
    /// TorchSharp dispose scopes are thread-bound, so tensors that live across an await are disposed by hand.
    /// </summary>
    /// <param name="layerTimed">Told, per layer, the time of attention (with its norms) and of the gate (with any shared expert), and the
    /// tokens they ran on (the step's, or one micro-batch's when the step is split).</param>
    /// <param name="routingBias">Steers each layer's top-k (see <see cref="IRoutingBias"/>); null routes as trained.</param>
    /// <param name="lookahead">Told, before each layer's dispatch, the experts the next layers' gates pick (pre-gating); null predicts nothing.</param>
    /// <param name="failures">Collects rows whose expert failed (see <see cref="StepFailures"/>) so the caller can fail only their
    /// sequences; null makes a failed expert fail the whole step.</param>
    /// <param name="overlap">Splits a step of enough sequences into micro-batches whose dispatch overlaps the others' compute
    /// (see <see cref="OverlapOptions"/>); null or one micro-batch runs the step unsplit.</param>
    public Task<Tensor> ForwardAsync(IReadOnlyList<SequenceStep> batch, IExpertDispatcher dispatcher, CancellationToken cancellationToken = default,
        Action<int, TimeSpan, TimeSpan, int>? layerTimed = null, IRoutingBias? routingBias = null, IExpertLookahead? lookahead = null, StepFailures? failures = null,
        OverlapOptions? overlap = null)
    {
        if (batch.Count == 0) throw new ArgumentException("a forward pass needs at least one sequence", nameof(batch));
        if (overlap is null || !overlap.Splits(batch.Count))
            return ForwardWholeAsync(batch, dispatcher, cancellationToken, layerTimed, routingBias, lookahead, failures);
        var tokenCounts = new int[batch.Count];
        for (int i = 0; i < tokenCounts.Length; i++)
        {
            tokenCounts[i] = batch[i].Tokens.Length;
            if (tokenCounts[i] == 0) throw new ArgumentException("every sequence in a step needs at least one token", nameof(batch));
        }
        int[] starts = MicroBatchSplit.Starts(tokenCounts, overlap.MicroBatches);
        return starts.Length <= 2
            ? ForwardWholeAsync(batch, dispatcher, cancellationToken, layerTimed, routingBias, lookahead, failures)
            : ForwardSplitAsync(batch, starts, dispatcher, cancellationToken, layerTimed, routingBias, lookahead, failures);
    }

    /// <summary>
    /// A layer up to its routed experts: attention, the MoE block's input, the gate's plan and the shared expert's output
    /// (zeros without one), each detached from the scope the step owns; reports the attention and gate times.
    /// </summary>
    (Tensor Attended, Tensor MoeInput, RoutingPlan Plan, Tensor Output) Front(DecoderLayer layer, Tensor hidden, Tensor positions,
        SequenceSlice[] slices, IRoutingBias? routingBias, Action<int, TimeSpan, TimeSpan, int>? layerTimed, int rowCount)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp(), attentionDone;
        Tensor attended, moeInput, output;
        RoutingPlan plan;
        using (var scope = NewDisposeScope())
        {
            attended = layer.AttentionStep(hidden, positions, slices, Rope).DetachFromDisposeScope();
            moeInput = layer.MoeInput(attended).DetachFromDisposeScope();
            attentionDone = System.Diagnostics.Stopwatch.GetTimestamp();
            plan = layer.Moe.Gate.Plan(moeInput, layer.Index, routingBias);
            plan.DetachFromDisposeScope();
            output = (layer.Moe.Shared?.Forward(moeInput) ?? zeros_like(moeInput)).DetachFromDisposeScope();
        }
        layerTimed?.Invoke(layer.Index, System.Diagnostics.Stopwatch.GetElapsedTime(started, attentionDone),
            System.Diagnostics.Stopwatch.GetElapsedTime(attentionDone), rowCount);
        return (attended, moeInput, plan, output);
    }

    async Task<Tensor> ForwardWholeAsync(IReadOnlyList<SequenceStep> batch, IExpertDispatcher dispatcher, CancellationToken cancellationToken,
        Action<int, TimeSpan, TimeSpan, int>? layerTimed, IRoutingBias? routingBias, IExpertLookahead? lookahead, StepFailures? failures)
    {
        Tensor tokens, positions, hidden;
        SequenceSlice[] slices;
        DispatchRows rows = Rows(batch, failures);
        using (var scope = NewDisposeScope())
        {
            (tokens, positions, slices) = Flatten(batch);
            hidden = Embed(tokens).DetachFromDisposeScope();
            positions.DetachFromDisposeScope();
        }
        try
        {
            foreach (DecoderLayer layer in Layers)
            {
                Tensor attended, moeInput, output;
                RoutingPlan plan;
                (attended, moeInput, plan, output) = Front(layer, hidden, positions, slices, routingBias, layerTimed, rows.Count);
                if (lookahead is not null)
                {
                    lookahead.Chosen(layer.Index, plan);
                    PredictNextLayers(layer.Index, moeInput, lookahead);
                }
                try
                {
                    await dispatcher.DispatchAsync(layer.Index, plan, moeInput, output, rows, cancellationToken).ConfigureAwait(false);
                    hidden.Dispose();
                    using (Inference.Enter()) hidden = attended.add_(output, Scalars.One);
                }
                catch
                {
                    attended.Dispose();
                    throw;
                }
                finally
                {
                    moeInput.Dispose();
                    output.Dispose();
                    plan.Dispose();
                }
            }
            foreach (SequenceStep step in batch) step.Cache.Advance(step.Tokens.Length);
            using (var scope = NewDisposeScope())
            {
                long[] last = slices.Select(s => (long)(s.Start + s.Count - 1)).ToArray();
                Tensor lastRows = hidden.index_select(0, tensor(last, device: Device));
                return Logits(lastRows).cpu().contiguous().MoveToOuterDisposeScope();
            }
        }
        finally
        {
            hidden.Dispose();
            positions.Dispose();
        }
    }

    /// <summary>
    /// The step split into micro-batches at <paramref name="starts"/> (sequence indices, see <see cref="MicroBatchSplit"/>) and
    /// pipelined: layer by layer, each micro-batch waits for its own previous dispatch, computes attention and gate, and starts
    /// its dispatch without waiting, so one micro-batch's experts are in flight while the next one computes. The only awaits are
    /// the dispatches; the compute stays on one logical thread. See docs/step-breakdown.md, "Overlap".
    /// </summary>
    async Task<Tensor> ForwardSplitAsync(IReadOnlyList<SequenceStep> batch, int[] starts, IExpertDispatcher dispatcher, CancellationToken cancellationToken,
        Action<int, TimeSpan, TimeSpan, int>? layerTimed, IRoutingBias? routingBias, IExpertLookahead? lookahead, StepFailures? failures)
    {
        Interlocked.Increment(ref _splitSteps);
        int count = starts.Length - 1, total = 0;
        foreach (SequenceStep step in batch) total += step.Tokens.Length;
        failures?.Reset(total);
        var parts = new MicroBatch[count];
        try
        {
            for (int g = 0, row = 0; g < count; g++)
            {
                var steps = new SequenceStep[starts[g + 1] - starts[g]];
                for (int i = 0; i < steps.Length; i++) steps[i] = batch[starts[g] + i];
                parts[g] = new MicroBatch(this, steps, row, failures is null ? null : new StepFailures());
                row += parts[g].Rows.Count;
            }
            foreach (DecoderLayer layer in Layers)
                foreach (MicroBatch part in parts)
                {
                    await part.SettleAsync().ConfigureAwait(false);
                    // Pre-gating follows the first micro-batch only: a lookahead scores each layer's prediction against the next
                    // choice it is told, which interleaved micro-batches would mix; the others' experts of a layer are dispatched
                    // after the first's, which has already made them hot.
                    part.Start(layer, dispatcher, cancellationToken, layerTimed, routingBias, part == parts[0] ? lookahead : null);
                }
            foreach (MicroBatch part in parts) await part.SettleAsync().ConfigureAwait(false);
            foreach (SequenceStep step in batch) step.Cache.Advance(step.Tokens.Length);
            if (failures is not null)
                foreach (MicroBatch part in parts) failures.Include(part.Failures!, part.RowOffset, part.Rows.Count);
            using (var scope = NewDisposeScope())
            {
                var lastRows = new Tensor[count];
                for (int g = 0; g < count; g++)
                {
                    long[] last = parts[g].Slices.Select(s => (long)(s.Start + s.Count - 1)).ToArray();
                    lastRows[g] = parts[g].Hidden.index_select(0, tensor(last, device: Device));
                }
                return Logits(cat(lastRows, 0)).cpu().contiguous().MoveToOuterDisposeScope();
            }
        }
        finally
        {
            // A failed step still waits for the other micro-batches' dispatches: their tensors must outlive them.
            foreach (MicroBatch? part in parts)
                if (part is not null)
                {
                    await part.DrainAsync().ConfigureAwait(false);
                    part.Dispose();
                }
        }
    }

    /// <summary>One micro-batch of a split step: its rows, its residual stream and its dispatch in flight.</summary>
    sealed class MicroBatch : IDisposable
    {
        readonly MoeModel _model;
        readonly Tensor _positions;
        Tensor _hidden;
        Task? _pending;
        Tensor? _attended, _moeInput, _output;
        RoutingPlan? _plan;

        public MicroBatch(MoeModel model, SequenceStep[] steps, int rowOffset, StepFailures? failures)
        {
            _model = model;
            RowOffset = rowOffset;
            Failures = failures;
            Rows = MoeModel.Rows(steps, failures);
            using var scope = NewDisposeScope();
            (Tensor tokens, _positions, Slices) = model.Flatten(steps);
            _hidden = model.Embed(tokens).DetachFromDisposeScope();
            _positions.DetachFromDisposeScope();
        }

        public int RowOffset { get; }
        public DispatchRows Rows { get; }
        public StepFailures? Failures { get; }
        public SequenceSlice[] Slices { get; }
        public Tensor Hidden => _hidden;

        /// <summary>Runs the layer's attention, norms, gate and shared expert on this micro-batch and starts its dispatch.</summary>
        public void Start(DecoderLayer layer, IExpertDispatcher dispatcher, CancellationToken cancellationToken,
            Action<int, TimeSpan, TimeSpan, int>? layerTimed, IRoutingBias? routingBias, IExpertLookahead? lookahead)
        {
            (_attended, _moeInput, _plan, _output) = _model.Front(layer, _hidden, _positions, Slices, routingBias, layerTimed, Rows.Count);
            try
            {
                if (lookahead is not null)
                {
                    lookahead.Chosen(layer.Index, _plan);
                    _model.PredictNextLayers(layer.Index, _moeInput, lookahead);
                }
                _pending = dispatcher.DispatchAsync(layer.Index, _plan, _moeInput, _output, Rows, cancellationToken);
            }
            catch (Exception e)
            {
                _pending = Task.FromException(e);
            }
        }

        /// <summary>Waits for the dispatch in flight, if any, and adds its experts' output to the residual stream.</summary>
        public async ValueTask SettleAsync()
        {
            if (_pending is not { } pending) return;
            try
            {
                await pending.ConfigureAwait(false);
                _hidden.Dispose();
                using (Inference.Enter()) _hidden = _attended!.add_(_output!, Scalars.One);
                _attended = null;
            }
            finally
            {
                _pending = null;
                Release();
            }
        }

        /// <summary>Waits for the dispatch in flight, if any, and forgets its outcome: the step has already failed.</summary>
        public async ValueTask DrainAsync()
        {
            if (_pending is not { } pending) return;
            try
            {
                await pending.ConfigureAwait(false);
            }
            catch
            {
                // The step's first failure is the one reported.
            }
            _pending = null;
            Release();
        }

        void Release()
        {
            _attended?.Dispose();
            _moeInput?.Dispose();
            _output?.Dispose();
            _plan?.Dispose();
            _attended = _moeInput = _output = null;
            _plan = null;
        }

        public void Dispose()
        {
            Release();
            _hidden.Dispose();
            _positions.Dispose();
        }
    }

    /// <summary>Hands <paramref name="lookahead"/> what the gates of the layers it asks for pick from this layer's MoE input.</summary>
    void PredictNextLayers(int layer, Tensor moeInput, IExpertLookahead lookahead)
    {
        int last = Math.Min(Layers.Count - 1, layer + lookahead.LayersAhead(layer));
        for (int next = layer + 1; next <= last; next++)
            lookahead.Predicted(next, Layers[next].Moe.Gate.Predict(moeInput, lookahead.Threshold(next)));
    }

    static DispatchRows Rows(IReadOnlyList<SequenceStep> batch, StepFailures? failures)
    {
        int total = 0;
        foreach (SequenceStep step in batch) total += step.Tokens.Length;
        failures?.Reset(total);
        var requests = new ulong[total];
        var positions = new long[total];
        int at = 0;
        foreach (SequenceStep step in batch)
            for (int j = 0; j < step.Tokens.Length; j++, at++)
            {
                requests[at] = step.RequestKey;
                positions[at] = step.Cache.Length + j;
            }
        return new DispatchRows(requests, positions) { Failures = failures };
    }

    /// <summary>Token ids [n] (int64) to the residual stream [n, H].</summary>
    public Tensor Embed(Tensor tokens) => _embedding.index_select(0, tokens);

    /// <summary>Final norm and LM head: residual rows [n, H] to float32 logits [n, vocab].</summary>
    public Tensor Logits(Tensor hidden)
    {
        using IDisposable mode = Inference.Enter();
        using var scope = NewDisposeScope();
        Tensor normed = RmsNorm.Apply(hidden, _finalNorm, Config.RmsNormEpsilon);
        return nn.functional.linear(normed, _lmHead).MoveToOuterDisposeScope();
    }

    /// <summary>The batch's token ids and positions as tensors, and where each sequence's rows are.</summary>
    public (Tensor Tokens, Tensor Positions, SequenceSlice[] Slices) Flatten(IReadOnlyList<SequenceStep> batch)
    {
        int total = 0;
        foreach (SequenceStep step in batch)
        {
            if (step.Tokens.Length == 0) throw new ArgumentException("every sequence in a step needs at least one token", nameof(batch));
            total += step.Tokens.Length;
        }
        var ids = new long[total];
        var positions = new long[total];
        var slices = new SequenceSlice[batch.Count];
        int at = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            SequenceStep step = batch[i];
            ReadOnlySpan<int> tokens = step.Tokens.Span;
            if (step.Cache.Length + tokens.Length > Config.MaxSequenceLength)
                throw new ArgumentException($"sequence would reach {step.Cache.Length + tokens.Length} positions; the model allows {Config.MaxSequenceLength}");
            for (int j = 0; j < tokens.Length; j++)
            {
                if ((uint)tokens[j] >= (uint)Config.VocabularySize)
                    throw new ArgumentOutOfRangeException(nameof(batch), $"the token at position {step.Cache.Length + j} lies outside the vocabulary of {Config.VocabularySize}");
                ids[at + j] = tokens[j];
                positions[at + j] = step.Cache.Length + j;
            }
            slices[i] = new SequenceSlice(step.Cache, at, tokens.Length);
            at += tokens.Length;
        }
        return (tensor(ids, device: Device), tensor(positions, device: Device), slices);
    }

    public void Dispose()
    {
        foreach (DecoderLayer layer in Layers) layer.Dispose();
        _embedding.Dispose();
        _finalNorm.Dispose();
        if (!ReferenceEquals(_lmHead, _embedding)) _lmHead.Dispose();
        Rope.Dispose();
    }
}
