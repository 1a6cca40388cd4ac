// Word lists and weights for the demo data generator (see generator.ts).

export const FIRST_NAMES: readonly string[] = [
  'Anna',
  'Liam',
  'Sofia',
  'Noah',
  'Emma',
  'Lukas',
  'Mia',
  'Oliver',
  'Chloé',
  'Hugo',
  'Sanne',
  'Daan',
  'Elsa',
  'Erik',
  'Yuki',
  'Haruto',
  'Ana',
  'João',
  'Priya',
  'Arjun',
  'Lucía',
  'Mateo',
  'Olivia',
  'James',
  'Charlotte',
  'Henry',
  'Léa',
  'Jonas',
  'Ingrid',
  'Sakura',
  'Ravi',
  'Isabella',
];

export const LAST_NAMES: readonly string[] = [
  'Smith',
  'Johnson',
  'Müller',
  'Schmidt',
  'Brown',
  'Taylor',
  'Martin',
  'Bernard',
  'de Vries',
  'Jansen',
  'Andersson',
  'Lindqvist',
  'Tanaka',
  'Suzuki',
  'Silva',
  'Santos',
  'Sharma',
  'Patel',
  'García',
  'López',
  'Williams',
  'Wilson',
  'Dubois',
  'Weber',
  'Fischer',
  'Evans',
  'Nakamura',
  'Kumar',
  'Oliveira',
  'Fernández',
  'Bakker',
  'Nilsson',
];

export const EMAIL_DOMAINS: readonly string[] = [
  'gmail.com',
  'outlook.com',
  'yahoo.com',
  'icloud.com',
  'proton.me',
  'gmx.net',
  'example.com',
  'mail.com',
];

export type Currency = 'USD' | 'EUR' | 'GBP' | 'SEK' | 'JPY' | 'BRL' | 'INR';

/** Units of the currency per US dollar (rough, fixed: demo data only). */
export const USD_RATE: Readonly<Record<Currency, number>> = {
  USD: 1,
  EUR: 0.92,
  GBP: 0.79,
  SEK: 10.6,
  JPY: 150,
  BRL: 5.1,
  INR: 83,
};

/** [ISO 3166 alpha-2, currency, weight] */
export const COUNTRIES: readonly (readonly [string, Currency, number])[] = [
  ['US', 'USD', 30],
  ['DE', 'EUR', 14],
  ['GB', 'GBP', 11],
  ['FR', 'EUR', 9],
  ['NL', 'EUR', 6],
  ['SE', 'SEK', 4],
  ['JP', 'JPY', 7],
  ['BR', 'BRL', 6],
  ['IN', 'INR', 6],
  ['ES', 'EUR', 5],
  ['IT', 'EUR', 4],
  ['IE', 'EUR', 2],
  ['AT', 'EUR', 2],
  ['BE', 'EUR', 2],
];

export type Tier = 'BRONZE' | 'SILVER' | 'GOLD' | 'PLATINUM';
export const TIERS: readonly Tier[] = ['BRONZE', 'SILVER', 'GOLD', 'PLATINUM'];
export const TIER_WEIGHTS: readonly number[] = [62, 24, 10, 4];

export type PaymentMethod = 'CARD' | 'BANK_TRANSFER' | 'WALLET';
export const METHODS: readonly PaymentMethod[] = ['CARD', 'BANK_TRANSFER', 'WALLET'];
export const METHOD_WEIGHTS: readonly number[] = [65, 15, 20];
/** Bank transfer is popular in these countries. */
export const METHOD_WEIGHTS_BANKY: readonly number[] = [45, 35, 20];
export const BANKY_COUNTRIES: ReadonlySet<string> = new Set(['DE', 'NL', 'AT', 'BE']);

/** [name, min USD, max USD, popularity weight] */
export const PRODUCTS: readonly (readonly [string, number, number, number])[] = [
  ['Wireless Mouse', 15, 45, 9],
  ['Mechanical Keyboard', 60, 180, 5],
  ['USB-C Hub', 25, 80, 7],
  ['27" Monitor', 180, 450, 3],
  ['Noise-Cancelling Headphones', 120, 380, 4],
  ['Bluetooth Speaker', 30, 150, 5],
  ['Laptop Stand', 20, 70, 5],
  ['Webcam', 40, 130, 4],
  ['External SSD 1TB', 70, 160, 4],
  ['Phone Case', 10, 40, 10],
  ['Smartwatch', 150, 450, 3],
  ['Fitness Tracker', 40, 150, 4],
  ['Coffee Grinder', 35, 200, 3],
  ['Espresso Machine', 200, 900, 1],
  ['French Press', 20, 60, 4],
  ["Chef's Knife", 30, 180, 3],
  ['Cast Iron Skillet', 25, 90, 3],
  ['Yoga Mat', 20, 80, 4],
  ['Running Shoes', 60, 180, 6],
  ['Backpack', 40, 160, 5],
  ['Water Bottle', 12, 45, 8],
  ['Desk Lamp', 25, 120, 4],
  ['Office Chair', 150, 600, 2],
  ['Standing Desk', 300, 900, 1],
  ['Paperback Novel', 8, 20, 9],
  ['Board Game', 20, 70, 5],
  ['LEGO Set', 30, 250, 4],
  ['Electric Toothbrush', 30, 150, 4],
  ['Air Purifier', 90, 400, 2],
  ['Robot Vacuum', 180, 800, 1],
  ['Game Controller', 45, 75, 4],
  ['E-Reader', 90, 250, 3],
];

/** Quantity q = index + 1; mostly 1-3. */
export const QUANTITY_WEIGHTS: readonly number[] = [60, 22, 10, 4, 2, 1, 0.5, 0.3, 0.1, 0.1];
