namespace MoeRuntime.Control.Replay;

/// <summary>
/// Replays a trace against one policy. Each layer has its own hot set of a fixed number of experts,
/// empty at the start. Every step, layer by layer, each expert the step needed there is one access
/// (ascending expert order): a hit if hot, else a demand fetch that makes it hot, evicting the policy's
/// victim when the set is full. Optionally, after each layer the runtime's pre-gating is modelled by
/// prefetching the next layer's predicted experts (see <see cref="ReplayOptions.Prefetch"/>). Every
/// <see cref="ReplayOptions.IntervalSteps"/> steps the policy sees the interval's use and may re-plan.
/// </summary>
public static class ReplaySimulator
{
    public static ReplayResult Replay(ReplayTrace trace, IReplayPolicy policy, ReplayOptions options)
    {
        options.Validate(trace);
        var run = new Run(trace, policy, options);
        run.Execute();
        return run.Result();
    }

    /// <summary>The state of one replay: hot sets, speculative flags, counters.</summary>
    internal sealed class Run
    {
        readonly ReplayTrace _trace;
        readonly IReplayPolicy _policy;
        readonly ReplayOptions _options;
        readonly int _layers, _experts;
        readonly int[] _resident;      // layer * capacity + slot
        readonly int[] _residentCount;
        readonly int[] _slot;          // layer * experts + expert -> slot, -1 when not hot
        readonly bool[] _speculative;  // prefetched and not yet used
        readonly bool[] _protected;    // about to be used in the current step and layer
        readonly long[] _cursor;       // next access index per layer
        readonly int[] _candidates;
        readonly Random _random;
        long _hits, _demand, _prefetch, _prefetchUsed, _prefetchWasted, _planned, _accesses;

        public Run(ReplayTrace trace, IReplayPolicy policy, ReplayOptions options)
        {
            _trace = trace;
            _policy = policy;
            _options = options;
            _layers = trace.Layers;
            _experts = trace.Experts;
            Capacity = Math.Min(options.CapacityPerLayer, _experts);
            _resident = new int[_layers * Capacity];
            _residentCount = new int[_layers];
            _slot = new int[_layers * _experts];
            Array.Fill(_slot, -1);
            _speculative = new bool[_layers * _experts];
            _protected = new bool[_layers * _experts];
            _cursor = new long[_layers];
            _candidates = new int[Capacity];
            _random = new Random(options.Seed);
            _recall = new double[_layers];
            _wrongPerUsed = new double[_layers];
            Array.Fill(_recall, double.NaN);
            foreach (Telemetry.Aggregation.PregatingAccuracy m in options.PrefetchMeasured ?? [])
                if (m.Lookahead == 1 && m.Actual > 0)
                {
                    _recall[m.Layer] = m.Recall;
                    _wrongPerUsed[m.Layer] = (double)(m.Predicted - m.Hits) / m.Actual;
                }
        }

        // Measured pre-gating per layer (NaN: the assumed accuracy): chance a used expert is predicted, wrong predictions per used expert.
        readonly double[] _recall, _wrongPerUsed;

        public int Capacity { get; }

        public bool IsHot(int layer, int expert) => _slot[Index(layer, expert)] >= 0;
        public ReadOnlySpan<int> Resident(int layer) => _resident.AsSpan(layer * Capacity, _residentCount[layer]);

        int Index(int layer, int expert)
        {
            if ((uint)layer >= (uint)_layers || (uint)expert >= (uint)_experts) throw new ArgumentOutOfRangeException(nameof(expert), $"layer {layer}, expert {expert}");
            return layer * _experts + expert;
        }

        public void Execute()
        {
            _policy.Start(new ReplaySetup(_trace, Capacity, _options.ExpertBytes, _options.IntervalSteps));
            var accesses = new int[_layers * _experts];
            var tokens = new int[_layers * _experts];
            int intervalStart = 0, intervalIndex = 0;
            var predicted = new List<int>();
            for (int step = 0; step < _trace.Steps; step++)
            {
                for (int layer = 0; layer < _layers; layer++)
                {
                    ReadOnlySpan<int> needed = _trace.Needed(step, layer);
                    ReadOnlySpan<int> counts = _trace.Tokens(step, layer);
                    foreach (int e in needed) _protected[layer * _experts + e] = true;
                    for (int i = 0; i < needed.Length; i++)
                    {
                        int e = needed[i], at = layer * _experts + e;
                        _protected[at] = false;
                        accesses[at]++;
                        tokens[at] += counts[i];
                        Access(layer, e, _cursor[layer]++);
                    }
                    if (_options.Prefetch && layer + 1 < _layers) Prefetch(step, layer + 1, predicted);
                }
                if (step + 1 - intervalStart == _options.IntervalSteps)
                {
                    _policy.IntervalEnded(new ReplayInterval(intervalIndex++, intervalStart, step + 1 - intervalStart, _layers, _experts,
                        (int[])accesses.Clone(), (int[])tokens.Clone(), Capacity), new HotSetEditor(this));
                    Array.Clear(accesses);
                    Array.Clear(tokens);
                    intervalStart = step + 1;
                }
            }
            // Prefetched experts still unused at the end never paid off.
            foreach (bool s in _speculative)
                if (s) _prefetchWasted++;
        }

        void Access(int layer, int expert, long time)
        {
            _accesses++;
            int at = layer * _experts + expert;
            bool hit = _slot[at] >= 0;
            if (hit)
            {
                _hits++;
                if (_speculative[at])
                {
                    _speculative[at] = false;
                    _prefetchUsed++;
                }
            }
            else
            {
                _demand++;
                Insert(layer, expert, time, InsertReason.Demand);
            }
            _policy.Accessed(layer, expert, time, hit);
        }

        /// <summary>
        /// Pre-gating at <paramref name="layer"/> - 1: the layer's predicted experts (<see cref="PredictAssumed"/> or, with a
        /// measured accuracy for the layer, <see cref="PredictMeasured"/>) are fetched ahead. The draws do not depend on the
        /// hot sets, so every policy sees the same predictions.
        /// </summary>
        void Prefetch(int step, int layer, List<int> predicted)
        {
            ReadOnlySpan<int> actual = _trace.Needed(step, layer);
            predicted.Clear();
            if (double.IsNaN(_recall[layer])) PredictAssumed(actual, predicted);
            else PredictMeasured(layer, actual, predicted);
            foreach (int e in predicted) _protected[layer * _experts + e] = true;
            long time = _cursor[layer];
            foreach (int e in predicted)
            {
                int at = layer * _experts + e;
                if (_slot[at] >= 0) continue;
                _prefetch++;
                Insert(layer, e, time, InsertReason.Prefetch);
                _speculative[at] = true;
            }
            foreach (int e in predicted) _protected[layer * _experts + e] = false;
        }

        /// <summary>Each expert the layer really needs is predicted with the assumed accuracy, else a random expert it does not need instead.</summary>
        void PredictAssumed(ReadOnlySpan<int> actual, List<int> predicted)
        {
            foreach (int e in actual)
            {
                int guess = e;
                if (_random.NextDouble() >= _options.PrefetchAccuracy)
                {
                    int pick = PickWrong(actual);
                    if (pick < 0) continue;
                    guess = pick;
                }
                if (!predicted.Contains(guess)) predicted.Add(guess);
            }
        }

        /// <summary>
        /// Each expert the layer really needs is predicted with the layer's measured recall; then wrong experts are added at
        /// the measured rate per needed expert (the fraction by a draw), so precision and recall come out as measured on average.
        /// </summary>
        void PredictMeasured(int layer, ReadOnlySpan<int> actual, List<int> predicted)
        {
            foreach (int e in actual)
                if (_random.NextDouble() < _recall[layer]) predicted.Add(e);
            double expectedWrong = _wrongPerUsed[layer] * actual.Length;
            int wrong = (int)expectedWrong + (_random.NextDouble() < expectedWrong - Math.Floor(expectedWrong) ? 1 : 0);
            for (int tries = 0; wrong > 0 && tries < 4 * _experts; tries++)
            {
                int pick = PickWrong(actual);
                if (pick < 0) break;
                if (predicted.Contains(pick)) continue;
                predicted.Add(pick);
                wrong--;
            }
        }

        /// <summary>A random expert not in the (ascending) <paramref name="actual"/> set; -1 when every expert is in it.</summary>
        int PickWrong(ReadOnlySpan<int> actual)
        {
            int wrongChoices = _experts - actual.Length;
            if (wrongChoices <= 0) return -1;
            // The pick-th expert not in the actual set.
            int guess = _random.Next(wrongChoices);
            foreach (int a in actual)
                if (a <= guess) guess++;
                else break;
            return guess;
        }

        void Insert(int layer, int expert, long time, InsertReason reason)
        {
            if (_residentCount[layer] == Capacity) Evict(layer, ChooseVictim(layer, time));
            int slot = _residentCount[layer]++;
            _resident[layer * Capacity + slot] = expert;
            _slot[layer * _experts + expert] = slot;
            _policy.Inserted(layer, expert, time, reason);
        }

        int ChooseVictim(int layer, long time)
        {
            ReadOnlySpan<int> hot = Resident(layer);
            int n = 0;
            foreach (int e in hot)
                if (!_protected[layer * _experts + e]) _candidates[n++] = e;
            ReadOnlySpan<int> candidates = n > 0 ? _candidates.AsSpan(0, n) : hot;
            int victim = _policy.ChooseVictim(layer, candidates, time);
            if (!candidates.Contains(victim))
                throw new InvalidOperationException($"policy {_policy.Name} chose expert {victim} at layer {layer}, which is not a candidate for eviction");
            return victim;
        }

        void Evict(int layer, int expert)
        {
            int at = layer * _experts + expert;
            int slot = _slot[at], last = --_residentCount[layer];
            int moved = _resident[layer * Capacity + last];
            _resident[layer * Capacity + slot] = moved;
            _slot[layer * _experts + moved] = slot;
            _slot[at] = -1;
            if (_speculative[at])
            {
                _speculative[at] = false;
                _prefetchWasted++;
            }
            _policy.Evicted(layer, expert);
        }

        public bool Promote(int layer, int expert)
        {
            int at = Index(layer, expert);
            if (_slot[at] >= 0 || _residentCount[layer] == Capacity) return false;
            _planned++;
            Insert(layer, expert, _cursor[layer], InsertReason.Planned);
            return true;
        }

        public bool Demote(int layer, int expert)
        {
            if (_slot[Index(layer, expert)] < 0) return false;
            Evict(layer, expert);
            return true;
        }

        public ReplayResult Result() => new(_policy.Name, Capacity, _accesses, _hits, _demand, _prefetch, _prefetchUsed, _prefetchWasted, _planned,
            _options.ExpertBytes, _options.FetchMilliseconds);
    }
}
