/**
 * gpu-specs — published peak memory bandwidths (GB/s, 10⁹ bytes/s) of common data-center and
 * desktop GPUs, matched against the WebGPU adapter's description, so GEMV throughput can be
 * stated as a fraction of the card's roofline. Unknown cards fall back to the copy bandwidth
 * the benchmark measures itself. First match wins, so specific names come before general ones.
 */
const TABLE: [RegExp, number, string][] = [
  [/H200/i, 4800, 'NVIDIA H200 (HBM3e)'],
  [/H100.*(PCIe|PCI-E)/i, 2000, 'NVIDIA H100 PCIe 80GB (HBM2e)'],
  [/H100.*NVL/i, 3900, 'NVIDIA H100 NVL (HBM3)'],
  [/H100/i, 3350, 'NVIDIA H100 SXM5 80GB (HBM3)'],
  [/GH200/i, 4000, 'NVIDIA GH200 (HBM3)'],
  [/A100.*80/i, 2039, 'NVIDIA A100 80GB SXM (HBM2e)'],
  [/A100/i, 1555, 'NVIDIA A100 40GB (HBM2)'],
  [/L40S/i, 864, 'NVIDIA L40S (GDDR6)'],
  [/L40/i, 864, 'NVIDIA L40 (GDDR6)'],
  [/\bL4\b/i, 300, 'NVIDIA L4 (GDDR6)'],
  [/A10G/i, 600, 'NVIDIA A10G (GDDR6)'],
  [/\bA10\b/i, 600, 'NVIDIA A10 (GDDR6)'],
  [/\bT4\b/i, 320, 'NVIDIA T4 (GDDR6)'],
  [/V100/i, 900, 'NVIDIA V100 (HBM2)'],
  [/RTX 4090/i, 1008, 'NVIDIA RTX 4090 (GDDR6X)'],
  [/RTX 3090/i, 936, 'NVIDIA RTX 3090 (GDDR6X)'],
  [/MI300X/i, 5300, 'AMD Instinct MI300X (HBM3)'],
  [/MI250/i, 3277, 'AMD Instinct MI250X (HBM2e)'],
];

export function specBandwidth(adapter: string): { gbps: number; card: string } | null {
  for (const [re, gbps, card] of TABLE) if (re.test(adapter)) return { gbps, card };
  return null;
}
