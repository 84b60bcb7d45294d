export const metadata = { title: 'tillit: Next.js' };

export default function RootLayout({ children }) {
  return (
    <html lang="no">
      <head>
        <link rel="icon" href="data:," />
      </head>
      <body>{children}</body>
    </html>
  );
}
