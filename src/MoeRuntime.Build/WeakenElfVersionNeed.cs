// Compiled by MSBuild's RoslynCodeTaskFactory (see MoeRuntime.Build.targets) and linked into the
// build tests, so it stays within what that factory's netstandard references offer.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace MoeRuntime.Build
{
    /// <summary>
    /// Marks one symbol-version requirement of native libraries weak when the host's libstdc++ does
    /// not define that version. TorchSharp's libLibTorchSharp.so needs GLIBCXX_3.4.32 for a single
    /// symbol GCC 13's iostream only references; with the requirement weak, older hosts load it.
    /// </summary>
    public sealed class WeakenElfVersionNeed : Microsoft.Build.Utilities.Task
    {
        [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
        [Required] public string Version { get; set; } = "";
        /// <summary>The libstdc++ to check; empty: the one this process loaded, else the usual paths.</summary>
        public string HostLibrary { get; set; } = "";

        public override bool Execute()
        {
            string? host = string.IsNullOrEmpty(HostLibrary) ? ElfVersions.FindHostLibStdCxx() : HostLibrary;
            if (host == null)
            {
                Log.LogWarning("No libstdc++.so.6 found on this host; {0} left as it is.", Version);
                return true;
            }
            if (ElfVersions.ReadVersionDefinitions(File.ReadAllBytes(host)).Contains(Version))
            {
                Log.LogMessage(MessageImportance.Low, "{0} defines {1}; nothing to weaken.", host, Version);
                return true;
            }
            foreach (ITaskItem item in Files)
            {
                string path = item.ItemSpec;
                if (!File.Exists(path)) continue;
                try
                {
                    if (ElfVersions.WeakenFile(path, Version))
                        Log.LogMessage(MessageImportance.High, "{0}: requirement {1} marked weak ({2} lacks it).", path, Version, host);
                }
                catch (InvalidDataException e)
                {
                    Log.LogError("{0}: {1}", path, e.Message);
                }
            }
            return !Log.HasLoggedErrors;
        }
    }

    /// <summary>Reads and edits the GNU symbol-versioning sections of a little-endian ELF64 file.</summary>
    public static class ElfVersions
    {
        const uint ShtGnuVerdef = 0x6ffffffd;
        const uint ShtGnuVerneed = 0x6ffffffe;
        public const ushort VerFlagWeak = 0x2;

        static readonly string[] LibStdCxxDirs =
        {
            "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib",
        };

        /// <summary>The libstdc++ the dynamic loader gives this process, which is what a test host gets too.</summary>
        public static string? FindHostLibStdCxx()
        {
            try
            {
                foreach (string line in File.ReadAllLines("/proc/self/maps"))
                {
                    int at = line.IndexOf('/');
                    if (at >= 0 && line.IndexOf("libstdc++.so.6", at, StringComparison.Ordinal) >= 0)
                        return line.Substring(at).Trim();
                }
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            foreach (string dir in LibStdCxxDirs)
            {
                string candidate = Path.Combine(dir, "libstdc++.so.6");
                if (File.Exists(candidate)) return candidate;
            }
            return null;
        }

        /// <summary>Version names a library defines (.gnu.version_d).</summary>
        public static HashSet<string> ReadVersionDefinitions(byte[] elf)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            Section? verdef = FindSection(elf, ShtGnuVerdef);
            if (verdef == null) return names;
            Section strtab = SectionAt(elf, verdef.Value.Link);
            long entry = verdef.Value.Offset;
            for (int i = 0; i < verdef.Value.Info; i++)
            {
                ushort auxCount = U16(elf, entry + 6);
                long aux = entry + U32(elf, entry + 12);
                if (auxCount > 0) names.Add(CString(elf, strtab.Offset + U32(elf, aux)));
                uint next = U32(elf, entry + 16);
                if (next == 0) break;
                entry += next;
            }
            return names;
        }

        /// <summary>Every (needed file, version, flags, file offset of the flags) of .gnu.version_r.</summary>
        public static List<VersionNeed> ReadVersionNeeds(byte[] elf)
        {
            var needs = new List<VersionNeed>();
            Section? verneed = FindSection(elf, ShtGnuVerneed);
            if (verneed == null) return needs;
            Section strtab = SectionAt(elf, verneed.Value.Link);
            long entry = verneed.Value.Offset;
            for (int i = 0; i < verneed.Value.Info; i++)
            {
                ushort count = U16(elf, entry + 2);
                string file = CString(elf, strtab.Offset + U32(elf, entry + 4));
                long aux = entry + U32(elf, entry + 8);
                for (int j = 0; j < count; j++)
                {
                    string name = CString(elf, strtab.Offset + U32(elf, aux + 8));
                    needs.Add(new VersionNeed(file, name, U16(elf, aux + 4), aux + 4));
                    uint auxNext = U32(elf, aux + 12);
                    if (auxNext == 0) break;
                    aux += auxNext;
                }
                uint next = U32(elf, entry + 12);
                if (next == 0) break;
                entry += next;
            }
            return needs;
        }

        /// <summary>Sets VER_FLG_WEAK on every requirement of <paramref name="version"/>; true if anything changed.</summary>
        public static bool Weaken(byte[] elf, string version)
        {
            bool changed = false;
            foreach (VersionNeed need in ReadVersionNeeds(elf))
            {
                if (need.Version != version || (need.Flags & VerFlagWeak) != 0) continue;
                ushort flags = (ushort)(need.Flags | VerFlagWeak);
                elf[need.FlagsOffset] = (byte)flags;
                elf[need.FlagsOffset + 1] = (byte)(flags >> 8);
                changed = true;
            }
            return changed;
        }

        /// <summary>
        /// Weakens the requirement in a file. The edit goes to a new file moved over the old one, so a
        /// hard link into the NuGet package cache is replaced, never written through.
        /// </summary>
        public static bool WeakenFile(string path, string version)
        {
            byte[] elf = File.ReadAllBytes(path);
            if (!Weaken(elf, version)) return false;
            string temp = path + ".weakening";
            File.WriteAllBytes(temp, elf);
            File.Delete(path);
            File.Move(temp, path);
            return true;
        }

        public struct VersionNeed
        {
            public VersionNeed(string file, string version, ushort flags, long flagsOffset)
            {
                File = file; Version = version; Flags = flags; FlagsOffset = flagsOffset;
            }
            public string File { get; }
            public string Version { get; }
            public ushort Flags { get; }
            public long FlagsOffset { get; }
            public bool IsWeak => (Flags & VerFlagWeak) != 0;
        }

        struct Section
        {
            public uint Type; public long Offset; public long Size; public uint Link; public uint Info;
        }

        static Section? FindSection(byte[] elf, uint type)
        {
            CheckHeader(elf);
            long table = (long)U64(elf, 0x28);
            ushort size = U16(elf, 0x3A), count = U16(elf, 0x3C);
            if (size < 0x40 || table + (long)size * count > elf.Length)
                throw new InvalidDataException("section header table lies outside the file");
            for (int i = 0; i < count; i++)
            {
                Section s = ReadSection(elf, table + (long)i * size);
                if (s.Type == type) return s;
            }
            return null;
        }

        static Section SectionAt(byte[] elf, uint index)
        {
            long table = (long)U64(elf, 0x28);
            ushort size = U16(elf, 0x3A), count = U16(elf, 0x3C);
            if (index >= count) throw new InvalidDataException("section link " + index + " out of range");
            return ReadSection(elf, table + (long)index * size);
        }

        static Section ReadSection(byte[] elf, long at)
        {
            var s = new Section
            {
                Type = U32(elf, at + 4),
                Offset = (long)U64(elf, at + 0x18),
                Size = (long)U64(elf, at + 0x20),
                Link = U32(elf, at + 0x28),
                Info = U32(elf, at + 0x2C),
            };
            if (s.Offset < 0 || s.Offset + s.Size > elf.Length)
                throw new InvalidDataException("section data lies outside the file");
            return s;
        }

        static void CheckHeader(byte[] elf)
        {
            if (elf.Length < 0x40 || elf[0] != 0x7F || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("not an ELF file");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException("only little-endian ELF64 is supported");
        }

        static ushort U16(byte[] b, long at) { Check(b, at, 2); return (ushort)(b[at] | b[at + 1] << 8); }
        static uint U32(byte[] b, long at) { Check(b, at, 4); return BitConverter.ToUInt32(b, (int)at); }
        static ulong U64(byte[] b, long at) { Check(b, at, 8); return BitConverter.ToUInt64(b, (int)at); }

        static void Check(byte[] b, long at, int width)
        {
            if (at < 0 || at + width > b.Length) throw new InvalidDataException("offset " + at + " lies outside the file");
        }

        static string CString(byte[] b, long at)
        {
            Check(b, at, 1);
            long end = at;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)at, (int)(end - at));
        }
    }
}
